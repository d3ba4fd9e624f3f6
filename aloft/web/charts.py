"""Charts drawn on the server as SVG: readable without JavaScript, coloured by the stylesheet.

Every shape carries a class, never a colour, so ``aloft.css`` gives light and dark schemes
their own; numbers ride along as ``<title>`` tooltips and ``aria-label`` text, so a chart
does not rely on colour or on sight alone. Markup is built here, escaped here, and handed
to templates as :class:`markupsafe.Markup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from aloft.times import human_duration

SPARK_WIDTH = 44
SPARK_HEIGHT = 10


def sparkline(values: Sequence[float | None]) -> Markup:
    """A tiny line of ``values`` (None: a gap), scaled to its own range.

    Compact, for a row of a table of a thousand: relative path steps, no class (the table's
    stylesheet reaches it), the range in milliseconds as its label.
    """
    measured = [value for value in values if value is not None]
    if not measured:
        return Markup('<span class="muted">no data</span>')
    low, high = min(measured), max(measured)
    span = (high - low) or 1.0
    step = SPARK_WIDTH // max(len(values) - 1, 1)
    runs: list[list[str]] = []
    last: tuple[int, int] | None = None
    for index, value in enumerate(values):
        if value is None:
            last = None
            continue
        x, y = index * step, round(SPARK_HEIGHT - (value - low) / span * SPARK_HEIGHT)
        if last is None:
            runs.append([f"M{x} {y}l"])
        else:
            dy = y - last[1]
            runs[-1].append(f"{x - last[0]}{' ' if dy >= 0 else ''}{dy}")
        last = (x, y)
    # A lone point is drawn as a dot: a step of one unit.
    path = "".join(run[0] + (" ".join(run[1:]) if len(run) > 1 else "1 0") for run in runs)
    return Markup(
        f'<svg viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" aria-label="{round(low)}-{round(high)}">'
        f'<path d="{path}"/></svg>'
    )


def response_time_chart(points: Sequence[tuple[datetime, float | None, float | None]], label: str) -> Markup:
    """A line chart of average response times with a band up to the slowest, and its axes labelled."""
    width, height, left, bottom, top = 720, 200, 48, 22, 8
    measured = [value for _, average, slowest in points for value in (average, slowest) if value is not None]
    if not measured:
        return Markup(f'<p class="muted">No response times measured in the last {escape(label)}.</p>')
    high = max(measured) * 1.1 or 1.0
    plot_width, plot_height = width - left - 4, height - bottom - top
    step = plot_width / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return round(left + index * step, 1)

    def y(value: float) -> float:
        return round(top + plot_height - value / high * plot_height, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Response time over the last {escape(label)}, up to {round(max(measured))} ms">'
    ]
    for fraction in (0, 0.5, 1):
        value = high * fraction
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 4}" y1="{y(value)}" y2="{y(value)}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y(value) + 4}" text-anchor="end">{round(value)} ms</text>')
    line, band_top, band_bottom = [], [], []
    pen_down = False
    for index, (moment, average, slowest) in enumerate(points):
        if average is None:
            pen_down = False
            continue
        line.append(f"{'L' if pen_down else 'M'}{x(index)} {y(average)}")
        pen_down = True
        band_top.append((x(index), y(slowest if slowest is not None else average)))
        band_bottom.append((x(index), y(average)))
        parts.append(
            f'<circle class="dot" cx="{x(index)}" cy="{y(average)}" r="2.5"><title>'
            f"{escape(moment.strftime('%Y-%m-%d %H:%M'))} UTC: average {round(average)} ms"
            f"{f', slowest {round(slowest)} ms' if slowest is not None else ''}</title></circle>"
        )
    if len(band_top) > 1:
        outline = band_top + band_bottom[::-1]
        parts.insert(1, f'<polygon class="band" points="{" ".join(f"{a},{b}" for a, b in outline)}"/>')
    parts.append(f'<path class="line" d="{"".join(line)}"/>')
    first, last = points[0][0], points[-1][0]
    parts.append(f'<text class="axis" x="{left}" y="{height - 4}">{escape(first.strftime("%b %d %H:%M"))}</text>')
    parts.append(
        f'<text class="axis" x="{width - 4}" y="{height - 4}" text-anchor="end">'
        f"{escape(last.strftime('%b %d %H:%M'))} UTC</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def uptime_bar(days: Sequence[tuple[datetime, float | None, int]]) -> Markup:
    """One cell per day (date, uptime percent or None, downtime seconds), oldest first; its tooltip says both."""
    cell, gap, height = 8, 2, 28
    width = len(days) * (cell + gap) - gap
    parts = [
        f'<svg class="uptime-bar" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Daily uptime over the last {len(days)} days">'
    ]
    for index, (day, uptime, downtime_seconds) in enumerate(days):
        if uptime is None:
            kind, text = "none", "no checks"
        else:
            kind = "good" if uptime >= 99.9 else "fair" if uptime >= 99 else "poor"
            text = f"{uptime:.2f}% up, {human_duration(timedelta(seconds=downtime_seconds))} down"
        parts.append(
            f'<rect class="day {kind}" x="{index * (cell + gap)}" y="0" width="{cell}" height="{height}" rx="1.5">'
            f"<title>{escape(day.strftime('%Y-%m-%d'))}: {escape(text)}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
