"""Render a Plan as Markdown, a self-contained HTML page, or the versioned JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from cfmigrate.analyzers.clients import INSTALL_NAMES
from cfmigrate.analyzers.measure import DAYS_PER_MONTH
from cfmigrate.generators.plan.charts import breakdown_chart, savings_chart, tokens_chart
from cfmigrate.generators.plan.model import (
    DECISION_TEXT,
    FIRST_LIVE_DAY,
    MONTHS_PER_YEAR,
    ROLLOUT_LIVE_DAY,
    SANDBOX_FROM_DAY,
    Plan,
    money,
    weeks_and_days,
)


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("cfmigrate.templates", ""),
        autoescape=select_autoescape(
            enabled_extensions=("html.jinja",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["pct1"] = lambda v: f"{v:.1%}"
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"
    env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    env.filters["codeify"] = _codeify
    env.filters["day"] = weeks_and_days
    return env


def _codeify(text: str) -> Any:
    """HTML-escape text and turn `backticked` parts into <code> elements."""
    from markupsafe import Markup, escape

    parts = str(escape(text)).split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return Markup(out)


def _context(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan,
        "roi": plan.roi,
        "any_traced": any(a.overhead_ratio_basis.startswith("from the trace") for a in plan.agents),
        "any_unmeasured": any(a.overhead_ratio is None for a in plan.agents),
        "charts": [
            c for c in (tokens_chart(plan), breakdown_chart(plan), savings_chart(plan)) if c is not None
        ],
        "decision_text": DECISION_TEXT,
        "first_live_day": FIRST_LIVE_DAY,
        "rollout_live_day": ROLLOUT_LIVE_DAY,
        "sandbox_from_day": SANDBOX_FROM_DAY,
        "days_per_month": DAYS_PER_MONTH,
        "install_names": INSTALL_NAMES,
        "months_per_year": MONTHS_PER_YEAR,
    }


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown, for a pull request, a wiki page or an e-mail."""
    text: str = _env().get_template("plan/plan.md.jinja").render(**_context(plan))
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(plan: Plan) -> str:
    """The plan as one self-contained HTML page with inline SVG charts (no scripts, no external assets)."""
    text: str = _env().get_template("plan/plan.html.jinja").render(**_context(plan))
    return text


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON (schema `cfmigrate.plan/1`): every figure, with the ROI's derived values."""
    data = asdict(plan)
    roi = plan.roi
    data["roi"].update(
        daily_before=round(roi.daily_before, 2),
        daily_after=round(roi.daily_after, 2),
        monthly_before=round(roi.monthly_before, 2),
        monthly_after=round(roi.monthly_after, 2),
        monthly_savings=round(roi.monthly_savings, 2),
        monthly_net=round(roi.monthly_net, 2),
        yearly_net=round(roi.yearly_net, 2),
        payback_day=roi.payback_day,
        break_even_requests_per_day=roi.break_even_requests_per_day,
    )
    for problem, p in zip(data["problems"], plan.problems, strict=True):
        problem["source"] = str(p.source) if p.source else None
    if plan.breakdown is not None:
        data["breakdown"]["before_total"] = plan.breakdown.before_total
        data["breakdown"]["after_total"] = plan.breakdown.after_total
    return data


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
