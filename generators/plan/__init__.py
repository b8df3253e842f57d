"""Turn an audit into a migration plan: where a repository stands, what to move in which order, the
eight weeks with the exact commands, how success is measured, and what it saves.

Every figure in a plan is either an audit figure copied unchanged (with the audit JSON field it came
from) or computed from such figures with the formula stated next to it.

`model` holds the data and the ROI arithmetic, `build` fills it from an audit, `phases` writes the
roadmap's prose, `charts` computes the chart geometry and `render` writes Markdown, HTML or JSON.
"""

from __future__ import annotations

from cfmigrate.generators.plan.build import build_plan, roi_for
from cfmigrate.generators.plan.model import (
    DEFAULT_SANDBOX_PER_MONTH,
    FIRST_LIVE_DAY,
    PLAN_SCHEMA,
    ROLLOUT_LIVE_DAY,
    SANDBOX_FROM_DAY,
    AgentRow,
    Breakdown,
    Plan,
    Roi,
    RoiLine,
    daily_cost,
)
from cfmigrate.generators.plan.render import plan_to_json, render_html, render_json, render_markdown

__all__ = [
    "DEFAULT_SANDBOX_PER_MONTH",
    "FIRST_LIVE_DAY",
    "PLAN_SCHEMA",
    "ROLLOUT_LIVE_DAY",
    "SANDBOX_FROM_DAY",
    "AgentRow",
    "Breakdown",
    "Plan",
    "Roi",
    "RoiLine",
    "build_plan",
    "daily_cost",
    "plan_to_json",
    "render_html",
    "render_json",
    "render_markdown",
    "roi_for",
]
