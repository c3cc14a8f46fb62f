"""Building policies and running detectors the way the gateway does."""

from __future__ import annotations

from sekisho.guardrails.config import CHECKS, CheckSpec, GuardrailSettings
from sekisho.guardrails.findings import Finding, findings
from sekisho.guardrails.normalize import normalize
from sekisho.guardrails.policy import Check, Policy, compile_policies, detector_for

DETECTABLE = tuple(c for c in CHECKS if c != "blocked_terms")


def check(name: str, action: str = "mask", **extra: object) -> Check:
    spec = CheckSpec(check=name, action=action, **extra)  # type: ignore[arg-type]
    return Check(spec, detector_for(spec))


def find(name: str, text: str) -> list[Finding]:
    return findings(check(name).detector, normalize(text))


def values(name: str, text: str) -> list[str]:
    return [text[f.start : f.end] for f in find(name, text)]


def default_policy() -> Policy:
    settings = GuardrailSettings()
    return compile_policies(settings.all_policies())[settings.default_policy]


def all_checks(action: str = "mask") -> list[Check]:
    return [check(name, action) for name in DETECTABLE]
