"""The `guardrails:` config section (config-as-code, validated at start-up).

    guardrails:
      default_policy: standard      # tenants without a policy of their own
      policies:
        standard:
          mode: enforce             # enforce | monitor
          timeout_ms: 50            # budget of all checks of one stage
          input:  [{check: secrets, action: block}, ...]
          output: [{check: payment_card, action: mask}, ...]

Built-in policies `standard` (the one in DESIGN.md) and `off` (no checks)
exist unless the file defines a policy of the same name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sekisho.guardrails.findings import CHECKS

CheckName = Literal[
    "email",
    "phone",
    "payment_card",
    "iban",
    "jp_my_number",
    "jp_corporate_number",
    "secrets",
    "prompt_injection",
    "blocked_terms",
]
assert set(CheckName.__args__) == set(CHECKS)  # type: ignore[attr-defined]


class CheckSpec(BaseModel):
    """One check of a policy stage and what to do with its findings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    check: CheckName
    action: Literal["block", "mask", "flag"]
    on_error: Literal["open", "closed"] = "open"
    timeout_ms: float | None = Field(None, gt=0, le=10_000)
    terms: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _terms_only_for_blocked_terms(self) -> CheckSpec:
        if self.check == "blocked_terms":
            if not self.terms or not any(t.strip() for t in self.terms):
                raise ValueError("blocked_terms needs a non-empty 'terms' list")
        elif self.terms is not None:
            raise ValueError(f"'terms' is only for blocked_terms, not {self.check}")
        return self

    def __repr__(self) -> str:
        return f"{self.check}:{self.action}"


class PolicySpec(BaseModel):
    """A named guardrail policy: the checks of each stage, the mode and the time budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["enforce", "monitor"] = "enforce"
    timeout_ms: float = Field(50, gt=0, le=10_000)
    input: tuple[CheckSpec, ...] = ()
    output: tuple[CheckSpec, ...] = ()

    @model_validator(mode="after")
    def _one_entry_per_check(self) -> PolicySpec:
        for stage in ("input", "output"):
            names = [c.check for c in getattr(self, stage)]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{stage} lists {', '.join(dup)} more than once")
        return self

    def __repr__(self) -> str:
        return f"{self.mode}(in={list(self.input)}, out={list(self.output)})"


STANDARD = PolicySpec(
    mode="enforce",
    input=(
        CheckSpec(check="secrets", action="block"),
        CheckSpec(check="payment_card", action="mask"),
        CheckSpec(check="jp_my_number", action="mask"),
        CheckSpec(check="prompt_injection", action="flag"),
    ),
    output=(
        CheckSpec(check="payment_card", action="mask"),
        CheckSpec(check="secrets", action="mask"),
    ),
)
BUILTIN_POLICIES = {"standard": STANDARD, "off": PolicySpec()}


class GuardrailSettings(BaseModel):
    """Guardrail policies and the writer of guardrail events (docs/guardrails.md)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        True, description="Run guardrails at all (false: no checks, no events, no hold-back)."
    )
    default_policy: str = Field(
        "standard", description="Policy of tenants without one of their own."
    )
    policies: dict[str, PolicySpec] = Field(
        default_factory=dict,
        description="Named policies (mode, timeout_ms, input and output checks); "
        "built-ins: standard, off.",
    )
    hash_salt_env: str | None = Field(
        None,
        description="Environment variable holding the salt of finding hashes (shared by replicas); "
        "default: a random salt file in state_dir.",
    )
    refresh_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often tenant policy assignments are re-read."
    )
    events_batch_size: int = Field(500, ge=1, description="Guardrail events written per batch.")
    events_flush_interval_s: float = Field(
        0.5, gt=0, description="Longest a guardrail event waits before it is written."
    )
    events_queue_max: int = Field(
        100_000, ge=100, description="Events buffered before new ones are dropped and counted."
    )

    @model_validator(mode="after")
    def _default_exists(self) -> GuardrailSettings:
        if self.default_policy not in self.all_policies():
            raise ValueError(
                f"default_policy {self.default_policy!r} is not a defined policy "
                f"({', '.join(sorted(self.all_policies()))})"
            )
        return self

    def all_policies(self) -> dict[str, PolicySpec]:
        return {**BUILTIN_POLICIES, **self.policies}
