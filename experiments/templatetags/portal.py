"""Formatting for the portal's templates: MLflow's millisecond times, durations, values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django import template

register = template.Library()


@register.filter
def ms_datetime(value: int | None) -> str:
    """Milliseconds since the epoch as a UTC date and time."""
    if value is None:
        return ""
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(value)


@register.filter
def duration(start: int | None, end: int | None) -> str:
    """The time between two millisecond timestamps, as 1h 2m 3s."""
    if start is None or end is None or end < start:
        return ""
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


@register.filter
def number(value: Any) -> str:
    """A metric value: up to 6 significant digits, NaN and infinities by name."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


@register.filter
def get(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def query(context: template.Context, **changes: Any) -> str:
    """The current query string with some parameters changed (None removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
