"""Time, as every long-lived part of the gateway reads it: one injected `Clock`.

`time()` and `now()` are the wall clock (the same instant, as epoch seconds
and as an aware UTC datetime); `monotonic()` measures intervals. The running
gateway uses `SYSTEM_CLOCK`; a test hands in a clock it can freeze or advance.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The machine's clocks."""

    def time(self) -> float:
        return _time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return _time.monotonic()


class WallClock:
    """A clock read from one wall-clock function (epoch seconds); intervals stay monotonic."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall

    def time(self) -> float:
        return self._wall()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def monotonic(self) -> float:
        return _time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()
