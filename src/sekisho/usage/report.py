"""Reading usage back: per tenant, key, alias and day, summed over replicas."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sekisho.store.models import Tenant
from sekisho.usage.tables import UsageDaily

COLUMNS = (
    "day",
    "tenant_id",
    "tenant",
    "key_id",
    "alias",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
)


@dataclass(frozen=True, slots=True)
class UsageRow:
    day: str
    tenant_id: str
    tenant: str
    key_id: str
    alias: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def usage_rows(
    session: Session, *, since: date, until: date | None = None, tenant_id: str | None = None
) -> list[UsageRow]:
    """Usage from `since` (inclusive) to `until` (inclusive), oldest day first."""
    q = (
        select(
            UsageDaily.day,
            UsageDaily.tenant_id,
            Tenant.name,
            UsageDaily.key_id,
            UsageDaily.alias,
            func.sum(UsageDaily.requests),
            func.sum(UsageDaily.errors),
            func.sum(UsageDaily.prompt_tokens),
            func.sum(UsageDaily.completion_tokens),
        )
        .join(Tenant, Tenant.id == UsageDaily.tenant_id, isouter=True)
        .where(UsageDaily.day >= since)
        .group_by(
            UsageDaily.day, UsageDaily.tenant_id, Tenant.name, UsageDaily.key_id, UsageDaily.alias
        )
        .order_by(UsageDaily.day, UsageDaily.tenant_id, UsageDaily.key_id, UsageDaily.alias)
    )
    if until is not None:
        q = q.where(UsageDaily.day <= until)
    if tenant_id is not None:
        q = q.where(UsageDaily.tenant_id == tenant_id)
    out = []
    for day, tid, name, key, alias, req, err, pt, ct in session.execute(q).all():
        out.append(
            UsageRow(
                day=day.isoformat(),
                tenant_id=tid,
                tenant=name or "",
                key_id=key,
                alias=alias,
                requests=int(req),
                errors=int(err),
                prompt_tokens=int(pt),
                completion_tokens=int(ct),
                total_tokens=int(pt) + int(ct),
            )
        )
    return out


def as_dicts(rows: list[UsageRow]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]


def as_csv(rows: list[UsageRow]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return buf.getvalue()


def as_table(rows: list[UsageRow]) -> str:
    if not rows:
        return "no usage in this window"
    shown = ("day", "tenant", "key_id", "alias", "requests", "errors", "total_tokens")
    cells = [[str(getattr(r, c)) or "-" for c in shown] for r in rows]
    totals = [
        "total",
        "",
        "",
        "",
        str(sum(r.requests for r in rows)),
        str(sum(r.errors for r in rows)),
        str(sum(r.total_tokens for r in rows)),
    ]
    widths = [max(len(h), *(len(c[i]) for c in [*cells, totals])) for i, h in enumerate(shown)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(shown, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.append("  ".join(c.ljust(w) for c, w in zip(totals, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)
