"""A policy ready to run: each check with its detector, and a content version. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from sekisho.guardrails.config import CheckSpec, PolicySpec
from sekisho.guardrails.findings import Detector
from sekisho.guardrails.injection import PromptInjectionDetector
from sekisho.guardrails.numbers import (
    CorporateNumberDetector,
    IbanDetector,
    MyNumberDetector,
    PaymentCardDetector,
)
from sekisho.guardrails.pii import EmailDetector, PhoneDetector
from sekisho.guardrails.secrets import SecretsDetector
from sekisho.guardrails.terms import BlockedTermsDetector

_STATELESS: dict[str, Detector] = {}


def detector_for(spec: CheckSpec) -> Detector:
    """The detector of a check (shared instances; blocked terms get their own automaton)."""
    if spec.check == "blocked_terms":
        return BlockedTermsDetector(spec.terms or ())
    found = _STATELESS.get(spec.check)
    if found is None:
        factories: dict[str, type[Detector]] = {
            "email": EmailDetector,
            "phone": PhoneDetector,
            "payment_card": PaymentCardDetector,
            "iban": IbanDetector,
            "jp_my_number": MyNumberDetector,
            "jp_corporate_number": CorporateNumberDetector,
            "secrets": SecretsDetector,
            "prompt_injection": PromptInjectionDetector,
        }
        found = _STATELESS[spec.check] = factories[spec.check]()
    return found


@dataclass(frozen=True, slots=True)
class Check:
    spec: CheckSpec
    detector: Detector

    @property
    def name(self) -> str:
        return self.spec.check


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: str  # "<name>@<sha256 prefix of its definition>": changes when the policy does
    mode: str
    budget_ms: float
    input: tuple[Check, ...]
    output: tuple[Check, ...]

    @property
    def enforce(self) -> bool:
        return self.mode == "enforce"

    @property
    def masks_output(self) -> bool:
        return self.enforce and any(c.spec.action in ("mask", "block") for c in self.output)


def compile_policy(name: str, spec: PolicySpec) -> Policy:
    digest = hashlib.sha256(orjson.dumps(spec.model_dump(mode="json"))).hexdigest()[:12]
    return Policy(
        name=name,
        version=f"{name}@{digest}",
        mode=spec.mode,
        budget_ms=spec.timeout_ms,
        input=tuple(Check(c, detector_for(c)) for c in spec.input),
        output=tuple(Check(c, detector_for(c)) for c in spec.output),
    )


def compile_policies(specs: dict[str, PolicySpec]) -> dict[str, Policy]:
    return {name: compile_policy(name, spec) for name, spec in specs.items()}
