"""Sign-in throttling: too many failures for an e-mail or a client address wait a while.

Shared through Redis when configured (every replica counts together), else
per process. A Redis that cannot answer refuses sign-in (fail closed).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Protocol

import redis

from sekisho.errors import RateLimited, ServiceUnavailable


class FailureCounter(Protocol):
    def count(self, key: str) -> tuple[int, float]:
        """(failures in the current window, seconds until the window ends)."""
        ...

    def add(self, key: str) -> None: ...

    def clear(self, key: str) -> None: ...


class MemoryCounter:
    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_s
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}

    def count(self, key: str) -> tuple[int, float]:
        n, started = self._counts.get(key, (0, 0.0))
        left = started + self._window - self._clock()
        return (n, left) if left > 0 else (0, 0.0)

    def add(self, key: str) -> None:
        n, left = self.count(key)
        started = self._clock() if n == 0 else self._clock() + left - self._window
        self._counts[key] = (n + 1, started)
        if len(self._counts) > 100_000:  # bound memory: drop the oldest windows
            for stale in sorted(self._counts, key=lambda k: self._counts[k][1])[:10_000]:
                del self._counts[stale]

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounter:
    def __init__(self, url: str, window_s: float, prefix: str = "sekisho:signin:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._window = max(1, int(window_s))
        self._prefix = prefix

    def count(self, key: str) -> tuple[int, float]:
        pipe = self._client.pipeline()
        pipe.get(self._prefix + key)
        pipe.ttl(self._prefix + key)
        raw, ttl = pipe.execute()
        return (int(raw), float(max(ttl, 0))) if raw is not None else (0, 0.0)

    def add(self, key: str) -> None:
        pipe = self._client.pipeline()
        pipe.incr(self._prefix + key)
        pipe.expire(self._prefix + key, self._window, nx=True)
        pipe.execute()

    def clear(self, key: str) -> None:
        self._client.delete(self._prefix + key)


class SigninThrottle:
    """Limits failures per e-mail (`max_failures`) and per address (4x that) per window."""

    def __init__(self, counter: FailureCounter, max_failures: int) -> None:
        self._counter = counter
        self._limits = {"email": max_failures, "ip": max_failures * 4}

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(f"email:{email}", self._limits["email"])]
        if ip:
            keys.append((f"ip:{ip}", self._limits["ip"]))
        return keys

    def check(self, email: str, ip: str | None) -> None:
        """Raise 429 (with Retry-After) while throttled; 503 if the counter cannot answer."""
        try:
            for key, limit in self._keys(email, ip):
                n, left = self._counter.count(key)
                if n >= limit:
                    raise RateLimited(
                        "Too many failed sign-ins; try again later.",
                        retry_after=max(1, int(left + 0.999)),
                    )
        except redis.RedisError as exc:
            raise ServiceUnavailable("Sign-in is unavailable right now; retry shortly.") from exc

    def failed(self, email: str, ip: str | None) -> None:
        try:
            for key, _ in self._keys(email, ip):
                self._counter.add(key)
        except redis.RedisError as exc:
            raise ServiceUnavailable("Sign-in is unavailable right now; retry shortly.") from exc

    def succeeded(self, email: str) -> None:
        # A leftover counter only makes the next failures count sooner.
        with contextlib.suppress(redis.RedisError):
            self._counter.clear(f"email:{email}")
