"""The guardrails the chat core calls: input before routing, output on JSON and streams.

    ChatService.complete
      ├─ guard.check_input(principal, req, record)     before the route plan: block → 400,
      │                                                 mask → the upstream sees masked text
      ├─ guard.check_output(principal, record, body)   a JSON completion
      └─ guard.wrap_stream(principal, record, tr)      a stream: the translator is wrapped

Each finding becomes a `GuardrailEvent` handed to the batch writer (never
awaited); the request log's `guardrail` column gets a summary. The tenant's
policy comes from an in-memory map of assignments, refreshed in the
background (`refresh`), so the request path never reads the store for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sekisho.adapters.base import StreamTranslator
from sekisho.chat.principal import Principal
from sekisho.chat.request import ChatRequest
from sekisho.errors import ContentPolicyViolation
from sekisho.guardrails.assignments import Assignment, load_assignments
from sekisho.guardrails.config import GuardrailSettings
from sekisho.guardrails.content import request_segments, response_segments, with_texts
from sekisho.guardrails.events import GuardrailEvent, GuardStats, value_hash
from sekisho.guardrails.findings import CATEGORIES
from sekisho.guardrails.pipeline import Path, Segment, StageResult, run_stage
from sekisho.guardrails.policy import Check, Policy, compile_policies
from sekisho.guardrails.sse import GuardedTranslator
from sekisho.guardrails.stream import StreamDetection, StreamMasker
from sekisho.ids import new_id
from sekisho.requestlog.record import RequestRecord
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.store.db import Database

log = logging.getLogger(__name__)
SubmitEvent = Callable[[GuardrailEvent], None]


def _blocked_message(alias: str, check: Check, stage: str, error: bool) -> str:
    category = CATEGORIES[check.name]
    what = "request to" if stage == "input" else "response from"
    if error:
        return (
            f"The {what} alias '{alias}' was blocked: it could not be checked for "
            f"{category} (guardrail policy fails closed)."
        )
    return (
        f"The {what} alias '{alias}' was blocked by its guardrail policy: it contains {category}."
    )


class ChatGuard:
    def __init__(
        self,
        settings: GuardrailSettings,
        *,
        submit: SubmitEvent,
        salt: bytes,
        db: Database | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        self.policies: dict[str, Policy] = compile_policies(settings.all_policies())
        self.default = self.policies[settings.default_policy]
        self.assignments: dict[str, Assignment] = {}
        self.loaded = db is None
        self._generation = 0
        self.stats = GuardStats()
        self.writer: RequestLogWriter | None = None  # set by runtime.attach (for /metrics)
        self._submit = submit
        self._salt = salt
        self._db = db
        self._wall = wall
        self._clock = clock

    @classmethod
    def disabled(cls) -> ChatGuard:
        """A guard that checks nothing (the chat core's default until the gateway sets one)."""
        return cls(GuardrailSettings(enabled=False), submit=lambda _: None, salt=b"")

    # --- policies ------------------------------------------------------------------

    def policy_for(self, tenant_id: str) -> tuple[Policy, int]:
        """The tenant's policy and assignment version (0: the config default)."""
        assigned = self.assignments.get(tenant_id)
        if assigned is None:
            return self.default, 0
        policy = self.policies.get(assigned.policy)
        if policy is None:  # the config no longer defines it: the default, counted
            self.stats.unknown_policy += 1
            return self.default, assigned.version
        return policy, assigned.version

    def adopt(self, assignment: Assignment) -> None:
        """A change made on this replica applies here at once (others: next refresh)."""
        self._generation += 1
        self.assignments = {**self.assignments, assignment.tenant_id: assignment}

    def _load(self) -> dict[str, Assignment]:
        assert self._db is not None
        with self._db.read() as session:
            return load_assignments(session)

    async def refresh(self) -> None:
        if self._db is None:
            return
        generation = self._generation
        try:
            loaded = await asyncio.to_thread(self._load)
            # A change adopted while we read may be newer than what we read: keep it.
            if self._generation == generation:
                self.assignments = loaded
                self.loaded = True
        except Exception:
            self.stats.refresh_failures += 1
            log.warning("guardrail policy refresh failed; keeping the last ones", exc_info=True)

    async def run_refresh(self) -> None:
        """Background loop: re-read tenant policies every `refresh_interval_s`."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.settings.refresh_interval_s)

    # --- the hooks -----------------------------------------------------------------

    async def check_input(
        self, principal: Principal, req: ChatRequest, record: RequestRecord
    ) -> ChatRequest:
        """Check a request before routing; returns it (masked) or raises ContentPolicyViolation."""
        if not self.enabled:
            return req
        masked = await self.check_texts(
            principal, req.alias, request_segments(req.body), record, "messages"
        )
        if masked:
            return replace(req, body=with_texts(req.body, masked))
        return req

    async def check_texts(
        self,
        principal: Principal,
        alias: str,
        segments: list[Segment],
        record: RequestRecord,
        param: str,
    ) -> dict[Path, str] | None:
        """The input stage over any request's texts (chat messages, embedding input).

        Returns the masked texts by path (None when nothing is masked), or raises
        ContentPolicyViolation naming `param`.
        """
        if not self.enabled:
            return None
        if not self.loaded:
            await self.refresh()
        policy, assigned = self.policy_for(principal.tenant.id)
        summary = self._summary(record, policy, assigned)
        if not policy.input:
            return None
        result = run_stage(policy.input, segments, budget_ms=policy.budget_ms, clock=self._clock)
        self._record_stage("input", policy, principal, record, result, summary)
        if not policy.enforce:
            return None
        if result.block is not None:
            summary["blocked"] = f"input:{result.block.name}"
            error = any(e.check is result.block for e in result.errors)
            raise ContentPolicyViolation(
                _blocked_message(alias, result.block, "input", error), param=param
            )
        return dict(result.masked) if result.masked else None

    def check_output(
        self, principal: Principal, record: RequestRecord, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Check a JSON completion; returns it (masked) or raises ContentPolicyViolation."""
        if not self.enabled:
            return body
        policy, assigned = self.policy_for(principal.tenant.id)
        if not policy.output:
            return body
        summary = self._summary(record, policy, assigned)
        result = run_stage(
            policy.output, response_segments(body), budget_ms=policy.budget_ms, clock=self._clock
        )
        self._record_stage("output", policy, principal, record, result, summary)
        if not policy.enforce:
            return body
        if result.block is not None:
            summary["blocked"] = f"output:{result.block.name}"
            error = any(e.check is result.block for e in result.errors)
            raise ContentPolicyViolation(
                _blocked_message(record.alias or "", result.block, "output", error)
            )
        return with_texts(body, result.masked) if result.masked else body

    def wrap_stream(
        self, principal: Principal, record: RequestRecord, translator: StreamTranslator
    ) -> StreamTranslator:
        """The stream translator, with output masking (and blocking) when the policy asks."""
        if not self.enabled:
            return translator
        policy, assigned = self.policy_for(principal.tenant.id)
        if not policy.output:
            return translator
        summary = self._summary(record, policy, assigned)
        stage: dict[str, Any] = summary.setdefault("output", {"checks": {}, "findings": 0})

        def on_detect(where: str, d: StreamDetection) -> None:
            stage["findings"] += 1
            stage["checks"][d.check.name] = d.check.spec.action
            self._event(
                "output", policy, principal, record, d.check, d.finding.kind, where,
                d.finding.start, d.finding.end, d.finding.score, d.value, 0.0,
            )  # fmt: skip

        def on_block(check: Check) -> None:
            summary["blocked"] = f"output:{check.name}"
            self.stats.blocks[("output", check.name)] += 1

        return GuardedTranslator(
            translator,
            lambda: StreamMasker(policy.output, enforce=policy.enforce),
            on_detect,
            on_block,
        )

    # --- bookkeeping -----------------------------------------------------------------

    def _summary(self, record: RequestRecord, policy: Policy, assigned: int) -> dict[str, Any]:
        if record.guardrail is None:
            record.guardrail = {
                "policy": policy.name,
                "version": policy.version,
                "assignment": assigned,
                "mode": policy.mode,
                "blocked": None,
            }
        return record.guardrail

    def _record_stage(
        self,
        stage: str,
        policy: Policy,
        principal: Principal,
        record: RequestRecord,
        result: StageResult,
        summary: dict[str, Any],
    ) -> None:
        self.stats.checked[stage] += 1
        summary[stage] = {
            "checks": result.actions,
            "findings": len(result.detected),
            "errors": {e.check.name: e.reason for e in result.errors},
            "ms": round(result.latency_ms, 3),
        }
        for d in result.detected:
            self._event(
                stage, policy, principal, record, d.check, d.finding.kind, d.segment.location,
                d.finding.start, d.finding.end, d.finding.score, d.value, result.latency_ms,
            )  # fmt: skip
        for e in result.errors:
            self.stats.errors[(stage, e.check.name, e.reason)] += 1
            self._event(
                stage, policy, principal, record, e.check, e.reason, "", None, None, None, None,
                result.latency_ms, action="error",
            )  # fmt: skip
        if result.block is not None and policy.enforce:
            self.stats.blocks[(stage, result.block.name)] += 1

    def _event(
        self,
        stage: str,
        policy: Policy,
        principal: Principal,
        record: RequestRecord,
        check: Check,
        kind: str,
        location: str,
        start: int | None,
        end: int | None,
        score: float | None,
        value: str | None,
        latency_ms: float,
        *,
        action: str | None = None,
    ) -> None:
        action = action or check.spec.action
        if action != "error":
            self.stats.findings[(stage, check.name, action)] += 1
        self._submit(
            GuardrailEvent(
                id=new_id("gre"),
                ts=self._wall(),
                request_id=record.id,
                stage=stage,
                check=check.name,
                action=action,
                enforced=policy.enforce,
                kind=kind,
                location=location[:200],
                policy=policy.name,
                policy_version=policy.version,
                latency_ms=round(latency_ms, 3),
                tenant_id=principal.tenant.id,
                key_id=principal.key.id if principal.key else None,
                user_id=principal.user_id,
                alias=record.alias,
                span_start=start,
                span_end=end,
                score=score,
                value_hash=value_hash(self._salt, value) if value is not None else None,
            )
        )
