"""A clock that moves only when a test moves it (sekisho.clock.Clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._mono = 1000.0

    def time(self) -> float:
        return self._now.timestamp()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
