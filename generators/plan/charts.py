"""Charts: geometry computed here (bars, ticks, labels), so the template only draws it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cfmigrate.generators.plan.model import (
    FIRST_LIVE_DAY,
    ROLLOUT_LIVE_DAY,
    SANDBOX_FROM_DAY,
    Plan,
    money,
    weeks_and_days,
)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = 12
    weight: str = "normal"
    fill: str = "#222"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = "#ccc"
    dash: str = ""
    width: float = 1.0


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    width: int
    height: int
    rects: tuple[Rect, ...] = ()
    texts: tuple[Text, ...] = ()
    lines: tuple[Line, ...] = ()
    path: str = ""  # one polyline, for the savings curve
    area: str = ""
    dots: tuple[tuple[float, float, str], ...] = ()


BEFORE = "#c8553d"
AFTER = "#2a9d8f"
SEGMENT_COLOURS = ("#c8553d", "#e9a23b", "#6c8ebf", "#8d6a9f")


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 x 10^k) that splits `span` into about `target_ticks` parts."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def _short(n: float) -> str:
    a = abs(n)
    if a >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 1_000:
        return f"{n / 1_000:.1f}k".replace(".0k", "k")
    return f"{n:.0f}"


def _short_money(n: float) -> str:
    return ("-" if n < 0 else "") + "$" + _short(abs(n))


def tokens_chart(plan: Plan) -> Chart | None:
    """Tokens per request per agent, on direct MCP and on code mode."""
    rows = [a for a in plan.agents if a.tool_context_tokens or a.code_mode_tokens][:12]
    if not rows:
        return None
    label_w, right = 190, 90
    width = 760
    plot = width - label_w - right
    bar, gap, group = 16, 4, 52
    top = 34
    height = top + group * len(rows) + 10
    vmax: float = (
        max(
            max(a.tool_context_tokens, a.code_mode_tokens if a.migrate else a.tool_context_tokens)
            for a in rows
        )
        or 1
    )
    step = nice_step(vmax)
    vmax = math.ceil(vmax / step) * step
    rects: list[Rect] = []
    texts: list[Text] = [
        Text(label_w, 14, "direct MCP", size=12),
        Text(label_w + 110, 14, "code mode (projected)", size=12),
    ]
    rects += [
        Rect(label_w - 16, 4, 12, 12, BEFORE, "direct MCP"),
        Rect(label_w + 94, 4, 12, 12, AFTER, "code mode"),
    ]
    lines: list[Line] = []
    ticks = int(vmax / step)
    for i in range(ticks + 1):
        x = label_w + plot * i / ticks
        lines.append(Line(x, top - 6, x, height - 8, "#e3e3e3"))
        texts.append(Text(x, height, _short(step * i), anchor="middle", size=10, fill="#777"))
    for i, a in enumerate(rows):
        y = top + i * group
        after = a.code_mode_tokens if a.migrate else a.tool_context_tokens
        wb = plot * a.tool_context_tokens / vmax
        wa = plot * after / vmax
        name = a.name if len(a.name) <= 26 else a.name[:25] + "…"
        texts.append(Text(label_w - 8, y + bar + 2, name, anchor="end", size=12, weight="bold"))
        texts.append(
            Text(
                label_w - 8,
                y + bar + 16,
                a.decision_text if len(a.decision_text) < 30 else "move to code mode",
                anchor="end",
                size=10,
                fill="#666",
            )
        )
        rects.append(
            Rect(
                label_w,
                y,
                max(wb, 1.5),
                bar,
                BEFORE,
                f"{a.name}: {a.tool_context_tokens:,} tokens per request on direct MCP",
            )
        )
        rects.append(
            Rect(
                label_w,
                y + bar + gap,
                max(wa, 1.5),
                bar,
                AFTER if a.migrate else "#b5b5b5",
                f"{a.name}: {after:,} tokens per request after",
            )
        )
        texts.append(Text(label_w + max(wb, 1.5) + 6, y + bar - 3, f"{a.tool_context_tokens:,}", size=11))
        after_label = f"{after:,}" + (f"  (−{a.reduction:.0%})" if a.migrate else "  (stays on MCP)")
        texts.append(Text(label_w + max(wa, 1.5) + 6, y + 2 * bar + gap - 3, after_label, size=11))
    return Chart(
        "chart-tokens",
        "Tokens per request, per agent",
        f"Tool context sent with every request (definitions + tool-use prompt), before and after. {plan.tokenizer}.",
        width,
        height + 6,
        tuple(rects),
        tuple(texts),
        tuple(lines),
    )


def breakdown_chart(plan: Plan) -> Chart | None:
    """Where the input tokens go, on direct MCP and on code mode, for the first candidate."""
    b = plan.breakdown
    if b is None or not (b.before_total or b.after_total):
        return None
    width, label_w, right = 760, 120, 80
    plot = width - label_w - right
    vmax = max(b.before_total, b.after_total) or 1
    rects: list[Rect] = []
    texts: list[Text] = []
    bar = 30
    rows = (("direct MCP", b.before, 12), ("code mode", b.after, 12 + bar + 18))
    colour_of: dict[str, str] = {}
    for label, segments, y in rows:
        x = float(label_w)
        texts.append(Text(label_w - 8, y + bar / 2 + 4, label, anchor="end", size=12, weight="bold"))
        total = sum(s.tokens for s in segments)
        for s in segments:
            if s.tokens <= 0:
                continue
            colour = colour_of.setdefault(
                s.label,
                AFTER if label == "code mode" else SEGMENT_COLOURS[len(colour_of) % len(SEGMENT_COLOURS)],
            )
            w = plot * s.tokens / vmax
            rects.append(Rect(x, y, max(w, 1.5), bar, colour, f"{s.label}: {s.tokens:,} tokens ({s.source})"))
            x += max(w, 1.5)
        texts.append(Text(x + 6, y + bar / 2 + 4, f"{total:,}", size=12, weight="bold"))
    # legend, one row per segment with its value
    y = 12 + 2 * bar + 18 + 30
    for label, segments, _ in rows:
        for s in segments:
            if s.tokens <= 0 or s.label not in colour_of:
                continue
            rects.append(Rect(label_w, y - 10, 12, 12, colour_of[s.label], s.label))
            texts.append(Text(label_w + 18, y, f"{s.label} — {s.tokens:,} ({label})", size=11))
            y += 18
    return Chart(
        "chart-breakdown",
        f"Where the input tokens go: `{b.agent}`, {b.unit}",
        f"{b.note} Token counts: {plan.tokenizer}.",
        width,
        int(y),
        tuple(rects),
        tuple(texts),
    )


def savings_chart(plan: Plan, weeks: int = 52) -> Chart | None:
    """Cumulative net savings over the first year, with the sandbox cost and the go-live dates marked."""
    roi = plan.roi
    if not roi.lines:
        return None
    days = weeks * 7
    cum = roi.cumulative(days)
    points = [0.0] + [cum[7 * w - 1] for w in range(1, weeks + 1)]
    width, height = 760, 300
    left, right, top, bottom = 70, 20, 20, 40
    pw, ph = width - left - right, height - top - bottom
    lo, hi = min(0.0, *points), max(0.0, *points)
    step = nice_step(hi - lo or 1.0)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step if hi > 0 else step
    if hi == lo:
        hi = lo + step

    def px(week: float) -> float:
        return left + pw * week / weeks

    def py(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    lines: list[Line] = []
    texts: list[Text] = []
    v = lo
    while v <= hi + step / 2:
        lines.append(
            Line(
                left,
                py(v),
                width - right,
                py(v),
                "#999" if abs(v) < step / 2 else "#e3e3e3",
                width=1.2 if abs(v) < step / 2 else 1.0,
            )
        )
        texts.append(Text(left - 6, py(v) + 4, _short_money(v), anchor="end", size=10, fill="#777"))
        v += step
    for w in range(0, weeks + 1, 4):
        texts.append(
            Text(
                px(w),
                height - bottom + 16,
                f"wk {w}" if w else "start",
                anchor="middle",
                size=10,
                fill="#777",
            )
        )
    markers = [
        (SANDBOX_FROM_DAY / 7, "sandbox from week 2"),
        ((roi.first_live_day or FIRST_LIVE_DAY) / 7, "first agent live, week 7"),
    ]
    if any(line.live_from_day == ROLLOUT_LIVE_DAY for line in roi.lines):
        markers.append((ROLLOUT_LIVE_DAY / 7, "rollout done, week 9"))
    for i, (wk, label) in enumerate(markers):
        lines.append(Line(px(wk), top, px(wk), top + ph, "#888", dash="4 3"))
        texts.append(Text(px(wk) + 4, top + 12 + 14 * i, label, size=10, fill="#555"))
    coords = [(px(i), py(p)) for i, p in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{px(0):.1f},{py(0):.1f} " + path + f" {px(weeks):.1f},{py(0):.1f}"
    dots: list[tuple[float, float, str]] = []
    if roi.payback_day and roi.payback_day <= days:
        d = roi.payback_day
        x, y = px(d / 7), py(cum[d - 1])
        dots.append((x, y, f"paid back on {weeks_and_days(d)}"))
        texts.append(Text(x + 8, y + 16, f"paid back: day {d}", size=11, weight="bold", fill="#1d6f65"))
    end = points[-1]
    texts.append(
        Text(
            px(weeks) - 4,
            py(end) - 8,
            f"{money(end)} after {weeks} weeks",
            anchor="end",
            size=12,
            weight="bold",
            fill="#1d6f65" if end >= 0 else BEFORE,
        )
    )
    return Chart(
        "chart-savings",
        "Savings over time",
        (
            f"Cumulative input-token savings minus {money(roi.sandbox_per_month)} a month for the sandbox"
            + (f" and a one-off {money(roi.one_off_cost)}" if roi.one_off_cost else "")
            + f", at {plan.requests_per_day:,} requests a day per agent."
        ),
        width,
        height,
        (),
        tuple(texts),
        tuple(lines),
        path,
        area,
        tuple(dots),
    )
