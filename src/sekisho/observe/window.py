"""Time windows as operators type them: `--since 1h`, or ISO 8601 `from`/`to`. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW = timedelta(days=31)


class WindowError(ValueError):
    """A window that cannot be used; the message says why."""


def parse_duration(text: str) -> timedelta:
    """'45s', '30m', '1h', '7d' -> timedelta."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise WindowError(f"{text!r} is not a duration like 30s, 15m, 1h or 7d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise WindowError(f"{text!r} is not an ISO 8601 time") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_window(
    *,
    since: str | None = None,
    start: str | None = None,
    end: str | None = None,
    default: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) from either a `since` duration or explicit bounds (end defaults to now)."""
    now = now or datetime.now(UTC)
    if since and start:
        raise WindowError("give either a duration (since) or a start time (from), not both")
    stop = parse_time(end) if end else now
    begin = (
        stop - parse_duration(since) if since else parse_time(start) if start else stop - default
    )
    if stop <= begin:
        raise WindowError("the window's end must be after its start")
    if stop - begin > MAX_WINDOW:
        raise WindowError("a window is at most 31 days")
    return begin, stop
