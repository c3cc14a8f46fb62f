"""The store-backed credential loader behind `KeyCache`."""

from __future__ import annotations

from sqlalchemy import select

from sekisho.store.db import Database
from sekisho.store.models import ApiKey, Tenant
from sekisho.tenancy.authcache import KeyRecord
from sekisho.tenancy.service import key_snapshot, tenant_snapshot


class StoreCredentialLoader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def load_key(self, prefix: str) -> KeyRecord | None:
        with self._db.read() as session:
            row = session.execute(
                select(ApiKey, Tenant)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.prefix == prefix)
            ).first()
            if row is None:
                return None
            key, tenant = row
            return key_snapshot(key), tenant_snapshot(tenant)
