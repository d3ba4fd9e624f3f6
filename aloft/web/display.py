"""How pages write Aloft's values: a status as a symbol and a word (never colour alone), percents, times, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from aloft.times import human_duration, isoformat_z
from aloft.web.blueprint import bp

#: Each status's symbol and word; the stylesheet colours them, the words say it without colour.
STATUS_LABELS = {
    "down": ("▼", "Down"),
    "up": ("▲", "Up"),
    "pending": ("◌", "Pending"),
    "paused": ("❚❚", "Paused"),
    "open": ("●", "Open"),
    "resolved": ("✓", "Resolved"),
    "sent": ("✓", "Sent"),
    "failed": ("✕", "Failed"),
}
#: The dashboard's order: what needs attention first.
STATUS_ORDER = {"down": 0, "pending": 1, "up": 2, "paused": 3}


def percent_text(value: float | None) -> str:
    """``99.95%``; ``100%``; an em dash without data."""
    if value is None:
        return "—"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


@bp.app_template_filter("status")
def status_badge(status: str) -> Markup:
    symbol, word = STATUS_LABELS.get(status, ("?", status.title()))
    return Markup(
        f'<span class="badge s-{escape(status)}"><span aria-hidden="true">{symbol}</span> {escape(word)}</span>'
    )


@bp.app_template_filter("when")
def when(value: datetime | None) -> Markup:
    """A time in UTC, readable, with its exact value for machines."""
    if value is None:
        return Markup('<span class="muted">never</span>')
    value = value.astimezone(UTC)
    return Markup(f'<time datetime="{isoformat_z(value)}">{value.strftime("%Y-%m-%d %H:%M:%S")}</time>')


@bp.app_template_filter("short_when")
def short_when(value: datetime | None, *, seconds: bool = True) -> Markup:
    """A compact time for long tables: the time of day if it is today (UTC), else the date and time."""
    if value is None:
        return Markup("never")
    value = value.astimezone(UTC)
    today = datetime.now(UTC).date() == value.date()
    return Markup(value.strftime(("%H:%M:%S" if seconds else "%H:%M") if today else "%Y-%m-%d %H:%M"))


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    return "—" if seconds is None else human_duration(timedelta(seconds=seconds))


@bp.app_template_filter("ms")
def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{round(value)} ms"


@bp.app_template_filter("percent")
def percent_filter(value: float | None) -> str:
    return percent_text(value)
