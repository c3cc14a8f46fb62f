"""The `guardrails:` config section is validated at start-up; a bad one changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sekisho.actor import Actor
from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.guardrails.assignments import set_tenant_policy
from sekisho.guardrails.config import GuardrailSettings
from sekisho.guardrails.guard import ChatGuard
from sekisho.matrix import Matrix
from sekisho.settings import ConfigError, settings_from_document
from sekisho.store.db import Database
from sekisho.tenancy import service


def _settings(tmp_path: Path, guardrails: Any) -> None:
    doc = demo_document("http://127.0.0.1:9", tmp_path, 0)
    doc["guardrails"] = guardrails
    settings_from_document(doc, DEMO_SECRETS)


@pytest.mark.parametrize(
    ("guardrails", "reason"),
    [
        ({"default_policy": "nope"}, "default_policy 'nope' is not a defined policy"),
        (
            {"policies": {"p": {"input": [{"check": "ssn", "action": "mask"}]}}},
            "guardrails.policies.p.input.0.check",
        ),
        ({"policies": {"p": {"input": [{"check": "email", "action": "delete"}]}}}, "action"),
        ({"policies": {"p": {"mode": "audit"}}}, "mode"),
        ({"policies": {"p": {"input": [{"check": "blocked_terms", "action": "block"}]}}}, "terms"),
        (
            {"policies": {"p": {"input": [{"check": "email", "action": "flag", "terms": ["x"]}]}}},
            "only for blocked_terms",
        ),
        (
            {
                "policies": {
                    "p": {
                        "output": [
                            {"check": "email", "action": "flag"},
                            {"check": "email", "action": "mask"},
                        ]
                    }
                }
            },
            "more than once",
        ),
        (
            {"policies": {"p": {"input": [{"check": "email", "action": "flag", "timeout_ms": 0}]}}},
            "timeout_ms",
        ),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_guardrail_config_is_refused_with_the_reason(
    tmp_path: Path, guardrails: Any, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason.replace(".", r"\.").replace("(", r"\(")):
        _settings(tmp_path, guardrails)


def test_defaults_are_the_design_standard_policy() -> None:
    settings = GuardrailSettings()
    standard = settings.all_policies()["standard"]
    assert settings.default_policy == "standard"
    assert [(c.check, c.action) for c in standard.input] == [
        ("secrets", "block"),
        ("payment_card", "mask"),
        ("jp_my_number", "mask"),
        ("prompt_injection", "flag"),
    ]
    assert [(c.check, c.action) for c in standard.output] == [
        ("payment_card", "mask"),
        ("secrets", "mask"),
    ]


def test_a_change_on_one_replica_reaches_another_on_its_next_refresh(any_db: Database) -> None:
    settings = GuardrailSettings()
    with any_db.begin() as s:
        tenant = service.create_tenant(
            s, Matrix(), service.TenantSpec("acme"), Actor.system("t")
        ).id
    here = ChatGuard(settings, submit=lambda _: None, salt=b"s", db=any_db)
    there = ChatGuard(settings, submit=lambda _: None, salt=b"s", db=any_db)
    asyncio.run(there.refresh())
    assert there.policy_for(tenant)[0].name == "standard"
    with any_db.begin() as s:
        done = set_tenant_policy(
            s, tenant, "off", Actor.system("t"), known_policies=settings.all_policies()
        )
    here.adopt(done)
    assert here.policy_for(tenant) == (here.policies["off"], 1)
    asyncio.run(there.refresh())
    assert there.policy_for(tenant) == (there.policies["off"], 1)
