"""Times as a person reads them: relative ("12 min ago") plus the UTC clock time.

Pure; the caller passes `now`. Used by the status page and the CLI's incident views.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["human_time", "relative", "utc_label"]


def utc_label(moment: datetime, now: datetime | None = None) -> str:
    """``10:40 UTC`` today, ``1 Mar 10:40 UTC`` another day, with the year when it differs."""
    moment = moment.astimezone(UTC)
    now = (now or moment).astimezone(UTC)
    clock = moment.strftime("%H:%M UTC")
    if moment.date() == now.date():
        return clock
    day = f"{moment.day} {moment.strftime('%b')}"
    if moment.year != now.year:
        day += f" {moment.year}"
    return f"{day} {clock}"


def relative(moment: datetime, now: datetime) -> str:
    """``just now``, ``12 min ago``, ``in 45 min``, ``3 h ago``, ``2 days ago``."""
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    if seconds < 3600:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 86400 * 2:
        hours = int(seconds // 3600)
        minutes = int(seconds % 3600 // 60)
        amount = f"{hours} h" + (f" {minutes} min" if minutes and hours < 6 else "")
    else:
        amount = f"{int(seconds // 86400)} days"
    return f"in {amount}" if future else f"{amount} ago"


def human_time(moment: datetime, now: datetime) -> str:
    """``12 min ago (10:40 UTC)``."""
    return f"{relative(moment, now)} ({utc_label(moment, now)})"
