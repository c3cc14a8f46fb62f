"""What the chat app tells a member, in plain words, for each error code and guardrail act. Pure.

Every sentence names the alias at most, never a provider; the member learns
what happened and what to do next.
"""

from __future__ import annotations

from typing import Any

SUSPENDED = (
    "Your organization's access to the chat is suspended. Your conversations are kept; "
    "ask your administrator when access will be restored."
)


def plain_words(code: str, alias: str | None, retry_after: int | None = None) -> str:
    model = f"'{alias}'" if alias else "the model"
    retry = f" Try again in {retry_after} seconds." if retry_after else " Try again shortly."
    words = {
        "upstream_unavailable": f"{model} is not answering right now (an outage).{retry}",
        "rate_limited": f"{model} is busy: too many requests right now (rate limit).{retry}",
        "insufficient_quota": (
            "Your organization's token budget for this period is spent. Ask your administrator."
        ),
        "content_policy_violation": (
            "Your organization's content policy blocked this message. Rephrase it without "
            "the blocked content."
        ),
        "tenant_suspended": SUSPENDED,
        "permission_denied": f"Your organization may not use {model}. Pick another model.",
        "model_not_found": f"{model} is not available. Pick another model.",
        "context_length_exceeded": (
            f"This conversation is too long for {model}. Shorten the message or start a new chat."
        ),
        "invalid_request": f"{model} could not accept this message. Rephrase it and resend.",
        "request_too_large": "This message is too large to send. Shorten it.",
        "invalid_api_key": "Your session has ended. Sign in again.",
        "service_unavailable": "The chat cannot check your session right now. Retry shortly.",
        "not_found": "This conversation does not exist (or was deleted).",
    }
    return words.get(
        code, "Something went wrong on our side. Try again; if it persists, report it."
    )


def guardrail_notice(info: dict[str, Any] | None) -> str | None:
    """A visible notice when a guardrail acted on an exchange, or None.

    Reads the chat core's request record (`record.guardrail`, issue 15): per
    stage (`input`, `output`) the checks that found something and the action
    each took (`{"checks": {name: action}, "findings": n}`), `blocked` when a
    check blocked, and the policy `mode` (`monitor` records but changes
    nothing, so it makes no notice). An `action` / `actions` / `events` list
    naming `mask`, `flag` or `block`, or `acted: true`, is understood too.
    """
    if not info or info.get("mode") == "monitor":
        return None
    actions: set[str] = set()
    for stage in ("input", "output"):
        found = info.get(stage)
        if isinstance(found, dict) and found.get("findings"):
            checks = found.get("checks")
            if isinstance(checks, dict):
                actions.update(a for a in checks.values() if isinstance(a, str))
    for listed in (info.get("actions"), info.get("events")):
        if not isinstance(listed, list):
            continue
        for item in listed:
            if isinstance(item, str):
                actions.add(item)
            elif isinstance(item, dict) and isinstance(item.get("action"), str):
                actions.add(item["action"])
    if isinstance(info.get("action"), str):
        actions.add(info["action"])
    if info.get("blocked") or "block" in actions:
        return "A content guardrail blocked part of this exchange."
    if "mask" in actions:
        return "A content guardrail masked sensitive content in this exchange."
    if "flag" in actions:
        return "A content guardrail flagged this exchange for review."
    if info.get("acted") is True:
        return "A content guardrail acted on this exchange."
    return None
