"""`sekisho triage ALIAS`: is it upstream or us? Internal: it names providers.

The evidence, over one recent window:

- direct probes of each provider behind the alias, and the upstream attempts
  live traffic made to them (from the provider rollup);
- the alias's end-to-end probe and its live customer error rate;
- the end-to-end probes of the *other* aliases (if they fail too while their
  providers answer, the gateway itself is the suspect).

`verdict` is pure; `gather` reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sekisho.control.overrides import active_rows
from sekisho.matrix import Matrix
from sekisho.observe.probes import ProbeSummary, summaries_of
from sekisho.observe.series import Totals, window_totals
from sekisho.store.db import Database

Verdict = Literal["upstream", "gateway", "healthy", "unknown"]
FAILING_RATE = 0.5  # at least half of the attempts or probes failing
MIN_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ProviderEvidence:
    provider: str
    probes: ProbeSummary
    attempts: int
    failed_attempts: int
    outcomes: dict[str, int]

    @property
    def failing(self) -> bool:
        traffic = (
            self.attempts >= MIN_ATTEMPTS and self.failed_attempts >= FAILING_RATE * self.attempts
        )
        return self.probes.failing or traffic

    @property
    def healthy(self) -> bool:
        """Positive evidence that the provider answers."""
        ok_attempts = self.attempts - self.failed_attempts
        return not self.failing and (self.probes.last_ok is True or ok_attempts > 0)


@dataclass(frozen=True, slots=True)
class ActiveOverride:
    """An operator's drain or pin of the alias, in force during the window."""

    id: str
    kind: str  # drain | pin
    provider: str
    expires_at: datetime
    incident_id: str | None = None

    def describe(self) -> str:
        what = (
            f"pin to {self.provider} (all traffic goes there)"
            if self.kind == "pin"
            else f"drain of {self.provider} (its traffic goes to the other routes)"
        )
        until = self.expires_at.astimezone(UTC).strftime("%H:%M UTC")
        return f"active override {self.id}: {what}, until {until}"


@dataclass(frozen=True, slots=True)
class TriageInput:
    alias: str
    window_s: float
    providers: list[ProviderEvidence]
    alias_probe: ProbeSummary
    traffic: Totals
    other_aliases_failing: list[str]
    other_aliases_probed: int
    since: datetime | None = None
    until: datetime | None = None
    overrides: tuple[ActiveOverride, ...] = ()


def verdict(t: TriageInput) -> tuple[Verdict, list[str]]:
    """The answer and the reasons behind it, most important first.

    An active override is named in every verdict: a pin to a failing route or
    a drain of the only healthy one is the likeliest cause of a "US" verdict.
    """
    answer, reasons = _verdict(t)
    if not t.overrides:
        return answer, reasons
    notes = [o.describe() for o in t.overrides]
    if answer == "gateway":
        notes = [
            f"{n} - it may explain the failures: revert it with "
            f"`sekisho alias revert {t.alias}` if the routes it avoids are healthy"
            for n in notes
        ]
        return answer, [*notes, *reasons]
    return answer, [*reasons, *notes]


def _verdict(t: TriageInput) -> tuple[Verdict, list[str]]:
    reasons: list[str] = []
    failing = [p for p in t.providers if p.failing]
    rate = t.traffic.error_rate
    alias_bad = t.alias_probe.failing or (
        rate is not None and rate >= FAILING_RATE and t.traffic.requests >= MIN_ATTEMPTS
    )
    for p in failing:
        reasons.append(
            f"provider {p.provider}: {p.probes.failed}/{p.probes.total} direct probes failed, "
            f"{p.failed_attempts}/{p.attempts} live attempts failed {_outcomes(p.outcomes)}"
        )
    if failing:
        if (
            t.other_aliases_probed
            and len(t.other_aliases_failing) == t.other_aliases_probed
            and not all(p.failing for p in t.providers)
        ):
            reasons.append("every other alias's end-to-end probe fails too")
            return "gateway", reasons
        return "upstream", reasons
    if alias_bad:
        if all(p.healthy for p in t.providers):
            reasons.append(
                "every provider behind the alias answers direct probes and live "
                "attempts, but the alias fails end to end"
            )
        return "gateway", [*reasons, _alias_line(t)]
    if (
        t.alias_probe.total == 0
        and t.traffic.requests == 0
        and not any(p.probes.total for p in t.providers)
    ):
        return "unknown", ["no probes and no traffic in the window"]
    return "healthy", [_alias_line(t)]


def _alias_line(t: TriageInput) -> str:
    rate = t.traffic.error_rate
    shown = f"{rate:.1%}" if rate is not None else "n/a"
    return (
        f"alias {t.alias}: live error rate {shown} of {t.traffic.requests} requests; "
        f"end-to-end probes {t.alias_probe.failed}/{t.alias_probe.total} failed"
    )


def _outcomes(outcomes: dict[str, int]) -> str:
    bad = {k: v for k, v in outcomes.items() if k != "ok"}
    return "(" + ", ".join(f"{k} {v}" for k, v in sorted(bad.items())) + ")" if bad else ""


def gather(
    db: Database, matrix: Matrix, alias: str, window_s: float, now: datetime | None = None
) -> TriageInput:
    """Read probes and rollups of the window for one alias."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=window_s)
    until = now + timedelta(seconds=1)
    providers = list(dict.fromkeys(r.provider for r in matrix.aliases[alias].routes))
    others = sorted(a for a in matrix.aliases if a != alias)
    with db.read() as session:
        overrides = tuple(
            ActiveOverride(o.id, o.kind, o.provider, o.expires_at, o.incident_id)
            for o in active_rows(session, now)
            if o.alias == alias
        )
        probes = summaries_of(session, {"provider": providers, "alias": [alias, *others]}, since)
        provider_probes, alias_probes = probes["provider"], probes["alias"]
        attempts = window_totals(session, "provider", providers, since, until)
        traffic = window_totals(session, "alias", [alias], since, until)[alias]
    evidence = [
        ProviderEvidence(
            p,
            provider_probes[p],
            attempts[p].requests,
            attempts[p].requests - attempts[p].cell.s2xx - attempts[p].cell.s4xx,
            dict(attempts[p].cell.codes),
        )
        for p in providers
    ]
    probed = [a for a in others if alias_probes[a].total]
    return TriageInput(
        alias,
        window_s,
        evidence,
        alias_probes[alias],
        traffic,
        [a for a in probed if alias_probes[a].failing],
        len(probed),
        since,
        now,
        overrides,
    )


def report(t: TriageInput) -> dict[str, Any]:
    """Verdict plus the numbers behind it (admin API and `triage --json`)."""
    answer, reasons = verdict(t)
    return {
        "alias": t.alias,
        "verdict": answer,
        "window_s": t.window_s,
        "window": {
            "from": t.since.isoformat() if t.since else None,
            "to": t.until.isoformat() if t.until else None,
        },
        "overrides": [
            {
                "id": o.id,
                "kind": o.kind,
                "provider": o.provider,
                "expires_at": o.expires_at.isoformat(),
                "incident_id": o.incident_id,
            }
            for o in t.overrides
        ],
        "reasons": reasons,
        "alias_traffic": t.traffic.to_dict(),
        "alias_probe": t.alias_probe.to_dict(),
        "providers": [
            {
                "provider": p.provider,
                "failing": p.failing,
                "probes": p.probes.to_dict(),
                "attempts": p.attempts,
                "failed_attempts": p.failed_attempts,
                "outcomes": p.outcomes,
            }
            for p in t.providers
        ],
        "other_aliases_failing_end_to_end": t.other_aliases_failing,
    }
