"""The per-bucket rollup of request-log records, kept in memory off the hot path.

`RollupAggregator.add` is the request-log listener: a few dict and list
increments per record, no I/O, no lock (it runs on the event loop, as does
`take`). A background task takes the accumulated *deltas* every few seconds
and writes them through `sekisho.observe.rollup_store`. Probe traffic is not
customer traffic and is left out (probes have their own table).

Three dimensions: `alias` and `tenant` count requests; `provider` counts
upstream attempts (internal only) with their outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sekisho.observe import histogram
from sekisho.requestlog.record import RequestRecord

UNKNOWN_ALIAS = "(unknown)"
DIMENSIONS = ("alias", "tenant", "provider")


@dataclass(slots=True)
class Cell:
    """Counters of one (bucket, dimension, key)."""

    requests: int = 0
    s2xx: int = 0
    s4xx: int = 0
    s5xx: int = 0
    s429: int = 0
    s502: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    latency_sum: float = 0.0
    latency_hist: list[int] = field(default_factory=histogram.empty)
    ttfb_count: int = 0
    ttfb_sum: float = 0.0
    ttfb_hist: list[int] = field(default_factory=histogram.empty)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def count_status(self, status: int, code: str | None, n: int = 1) -> None:
        self.requests += n
        if 200 <= status < 300:
            self.s2xx += n
        elif 400 <= status < 500:
            self.s4xx += n
        elif status >= 500:
            self.s5xx += n
        if status == 429:
            self.s429 += n
        elif status == 502:
            self.s502 += n
        if code:
            self.codes[code] = self.codes.get(code, 0) + n

    def count_latency(self, latency_ms: float) -> None:
        self.latency_sum += latency_ms
        self.latency_hist[histogram.bucket_index(latency_ms)] += 1

    def merge(self, other: Cell) -> None:
        self.requests += other.requests
        self.s2xx += other.s2xx
        self.s4xx += other.s4xx
        self.s5xx += other.s5xx
        self.s429 += other.s429
        self.s502 += other.s502
        self.latency_sum += other.latency_sum
        self.ttfb_count += other.ttfb_count
        self.ttfb_sum += other.ttfb_sum
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        for code, n in other.codes.items():
            self.codes[code] = self.codes.get(code, 0) + n
        histogram.merge(self.latency_hist, other.latency_hist)
        histogram.merge(self.ttfb_hist, other.ttfb_hist)


CellKey = tuple[int, str, str]  # (bucket start, unix seconds), dimension, key


def bucket_start(ts: datetime, bucket_s: int) -> int:
    epoch = int(ts.timestamp())
    return epoch - epoch % bucket_s


def bucket_time(start: int) -> datetime:
    return datetime.fromtimestamp(start, UTC)


class RollupAggregator:
    """In-memory deltas since the last `take()`; `add` is the request-log listener."""

    def __init__(self, bucket_s: int, known_aliases: Callable[[], Collection[str]]) -> None:
        self.bucket_s = bucket_s
        self._known = known_aliases
        self._cells: dict[CellKey, Cell] = {}

    def _cell(self, key: CellKey) -> Cell:
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = Cell()
        return cell

    def add(self, record: RequestRecord) -> None:
        """Count one finished request (called synchronously by the writer's `submit`)."""
        if record.source == "probe":
            return
        start = bucket_start(record.ts, self.bucket_s)
        alias = record.alias if record.alias in self._known() else UNKNOWN_ALIAS
        targets = [(start, "alias", alias or UNKNOWN_ALIAS)]
        if record.tenant_id:
            targets.append((start, "tenant", record.tenant_id))
        for key in targets:
            cell = self._cell(key)
            cell.count_status(record.status, record.error_code)
            cell.count_latency(record.latency_ms)
            if record.ttfb_ms is not None:
                cell.ttfb_count += 1
                cell.ttfb_sum += record.ttfb_ms
                cell.ttfb_hist[histogram.bucket_index(record.ttfb_ms)] += 1
            cell.prompt_tokens += record.prompt_tokens or 0
            cell.completion_tokens += record.completion_tokens or 0
        for attempt in record.attempts:
            cell = self._cell((start, "provider", attempt.provider))
            cell.requests += 1
            if attempt.outcome == "ok":
                cell.s2xx += 1
            elif attempt.status == 429 or attempt.outcome == "rate_limited":
                cell.s429 += 1
            elif attempt.status is not None and 400 <= attempt.status < 500:
                cell.s4xx += 1
            elif attempt.outcome not in ("circuit_open", "untranslatable"):
                cell.s5xx += 1  # upstream failure: 5xx, timeout, reset, connect error
            cell.codes[attempt.outcome] = cell.codes.get(attempt.outcome, 0) + 1
            if attempt.outcome != "circuit_open":
                cell.count_latency(attempt.latency_ms)
            if record.provider == attempt.provider and attempt.outcome == "ok":
                cell.prompt_tokens += record.prompt_tokens or 0
                cell.completion_tokens += record.completion_tokens or 0

    def take(self) -> dict[CellKey, Cell]:
        """Hand over the deltas accumulated so far and start afresh."""
        cells, self._cells = self._cells, {}
        return cells

    def give_back(self, cells: dict[CellKey, Cell]) -> None:
        """Re-queue deltas a failed write could not store (merged with newer ones)."""
        for key, cell in cells.items():
            self._cell(key).merge(cell)

    def __len__(self) -> int:
        return len(self._cells)
