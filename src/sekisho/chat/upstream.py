"""The one pooled HTTP client to providers (aiohttp: keep-alive, fast under load).

Passed into the chat core through its constructor so tests and benchmarks
talk to real local servers. Nothing upstream sends is passed to a customer
except through an adapter's allow-list; no upstream header is passed at all
(every header a provider sends describes the provider: its name, its
organisation, its rate-limit tiers, its request ids).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

PASSED_UPSTREAM_HEADERS: frozenset[str] = frozenset()


class UpstreamFailure(Exception):
    """The upstream could not be reached or broke off: kind is connect_error, timeout or reset."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AttemptTimeouts:
    connect_s: float
    first_byte_s: float  # until response headers
    read_s: float  # between chunks once streaming / body read


class UpstreamResponse:
    def __init__(self, response: aiohttp.ClientResponse, timeouts: AttemptTimeouts) -> None:
        self._response = response
        self._timeouts = timeouts
        self.status = response.status

    async def read(self) -> bytes:
        try:
            return await asyncio.wait_for(self._response.read(), self._timeouts.read_s)
        except TimeoutError as exc:
            raise UpstreamFailure("timeout", "timed out reading the upstream body") from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            raise UpstreamFailure("reset", f"upstream body broke off: {exc!r}") from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        """Raw body bytes as they arrive; raises UpstreamFailure on a cut or a stall."""
        content = self._response.content
        while True:
            try:
                data = await asyncio.wait_for(content.readany(), self._timeouts.read_s)
            except TimeoutError as exc:
                raise UpstreamFailure("timeout", "upstream stream stalled") from exc
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise UpstreamFailure("reset", f"upstream stream broke off: {exc!r}") from exc
            if not data:
                return
            yield data

    def close(self) -> None:
        self._response.close()


class UpstreamClient:
    """A pooled keep-alive client; one per process."""

    def __init__(self, *, limit: int = 1000, limit_per_host: int = 0) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None

    def _ensure(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=self._limit_per_host,
                ttl_dns_cache=300, keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def send(self, url: str, headers: dict[str, str], body: bytes,
                   timeouts: AttemptTimeouts) -> UpstreamResponse:
        """POST and wait for the response headers."""
        session = self._ensure()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect_s)
        try:
            response = await asyncio.wait_for(
                session.post(url, data=body, headers=headers, timeout=timeout),
                timeouts.first_byte_s,
            )
        except TimeoutError as exc:
            raise UpstreamFailure("timeout", f"no response within {timeouts.first_byte_s:g}s") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise UpstreamFailure("reset", f"connection reset: {exc!r}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamFailure("connect_error", f"cannot connect: {exc!r}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamFailure("reset", f"connection failed: {exc!r}") from exc
        return UpstreamResponse(response, timeouts)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
