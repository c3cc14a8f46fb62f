"""Cross-replica invalidation: a tenant or key changed, every replica forgets it at once.

    control-plane change ──(same txn)── tenants.version += 1, pg_notify (PostgreSQL)
          │ after commit
          └── Redis PUBLISH (when redis_url is set)
    every replica:  push listener (Redis, else PostgreSQL LISTEN)  ┐
                    version poll of `tenants` (safety net)          ├─► Invalidator
                                                                    ┘   (key cache, in-flight streams)

The push path makes the effect land in milliseconds; the poll bounds it when a
push is lost. Neither is what keeps auth safe: the key cache re-confirms every
entry against the store within `auth.cache_ttl_s` and fails closed past
`auth.max_stale_s` (see `sekisho.tenancy.authcache`).
"""

from sekisho.bus.events import Invalidation, decode, encode
from sekisho.bus.publish import Announcer, notify_in_transaction

# The replica side (listeners, poll, Invalidator) is in `sekisho.bus.subscribe`,
# imported only by a running gateway.
__all__ = ["Announcer", "Invalidation", "decode", "encode", "notify_in_transaction"]
