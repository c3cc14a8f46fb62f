"""The running gateway: every long-lived part, built from settings in one place.

`Gateway` owns the database handle, the key cache, the request-log writer,
the pooled upstream client and the live routing state. The app factory wraps
it in ASGI; the BFF and admin routes reach the same objects through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sekisho.chat.core import ChatService, RoutingState
from sekisho.chat.inflight import InflightStreams
from sekisho.chat.upstream import UpstreamClient
from sekisho.requestlog.record import RequestRecord
from sekisho.requestlog.sink import StoreSink
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.tenancy.authcache import KeyCache
from sekisho.tenancy.loader import StoreCredentialLoader

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: Settings
    db: Database
    upstream: UpstreamClient
    writer: RequestLogWriter
    keys: KeyCache
    chat: ChatService
    routing: RoutingState
    on_shutdown: list[Callable[[], object]] = field(default_factory=list)

    def routing_state(self) -> RoutingState:
        return self.routing

    def submit_log(self, record: RequestRecord) -> None:
        self.writer.submit(record)

    async def start(self) -> None:
        self.writer.start()

    async def stop(self) -> None:
        await self.writer.stop()
        await self.upstream.close()


def build_gateway(
    settings: Settings, *, db: Database | None = None, upstream: UpstreamClient | None = None,
) -> Gateway:
    """Assemble a gateway; nothing starts until `start()` (the ASGI lifespan calls it)."""
    db = db or Database(settings.database_url)
    upstream = upstream or UpstreamClient()
    writer = RequestLogWriter(
        StoreSink(db), batch_size=settings.request_log.batch_size,
        flush_interval_s=settings.request_log.flush_interval_s,
        queue_max=settings.request_log.queue_max,
    )
    keys = KeyCache(StoreCredentialLoader(db), ttl_s=settings.auth.cache_ttl_s,
                    max_stale_s=settings.auth.max_stale_s, max_size=settings.auth.cache_size)
    routing = RoutingState(matrix=settings.matrix)
    holder: dict[str, Gateway] = {}
    chat = ChatService(
        routing=lambda: holder["gw"].routing,
        upstream=upstream,
        submit_log=writer.submit,
        provider_key=settings.provider_api_key,
        inflight=InflightStreams(),
        request_deadline_s=settings.limits.request_deadline_s,
    )
    gateway = Gateway(settings=settings, db=db, upstream=upstream, writer=writer, keys=keys,
                      chat=chat, routing=routing)
    holder["gw"] = gateway
    return gateway
