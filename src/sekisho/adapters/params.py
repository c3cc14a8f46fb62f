"""What happens to every chat-completions request parameter, per wire format. Pure.

ONE table, `PARAMETERS`, says for each parameter of the OpenAI
`CreateChatCompletionRequest` (and each field of a message) what each adapter
does with it:

    passed      forwarded to the upstream as the client sent it
    translated  carried in the upstream's own terms (the note says how)
    refused     400 invalid_request naming the parameter (a no-op value is accepted)
    withheld    accepted and validated, deliberately not sent to any provider (the
                note says why: the tenant's end-user data is not the provider's)

Nothing is dropped silently: `check_parameters(body, kind)` is the first thing
each adapter's `build_request` runs, and a parameter the table does not know is
refused before that by `chat.request`. The adapters forward exactly the
`passed` set (`forwarded_parameters`) and implement each `translated` note;
`tests/adapters/test_params_table.py` holds the table to the spec and to the
adapters, and `render_markdown()` is the generated section of docs/api.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sekisho.errors import InvalidRequest

__all__ = [
    "KINDS",
    "MESSAGE_FIELDS",
    "PARAMETERS",
    "REASONING_BUDGETS",
    "Rule",
    "check_parameters",
    "forwarded_parameters",
    "render_markdown",
]

Disposition = Literal["passed", "translated", "refused", "withheld"]
KINDS = ("openai", "anthropic")

# reasoning_effort -> Anthropic extended-thinking budget_tokens (None: thinking off).
# 1024 is the Messages API's minimum budget; each step up is four times the last.
REASONING_BUDGETS: dict[str, int | None] = {
    "none": None,
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 32768,
}

# A refusal check returns the customer message when a value cannot be carried, else None.
Check = Callable[[Any, Mapping[str, Any]], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    disposition: Disposition
    note: str = ""
    check: Check | None = None  # value-dependent refusal (for passed/translated/withheld)
    no_op: tuple[Any, ...] = ()  # for `refused`: values that mean "not used" and are accepted


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _temperature_anthropic(value: Any, body: Mapping[str, Any]) -> str | None:
    if _num(value) and value > 1:
        return "'temperature' above 1 is not supported by this model (its range is 0 to 1)."
    return None


def _top_p_anthropic(value: Any, body: Mapping[str, Any]) -> str | None:
    if value is None or value == 1:
        return None
    if body.get("temperature") is not None:
        return (
            "Set 'temperature' or 'top_p', not both: this model accepts only one of them "
            "(top_p 1 counts as unset)."
        )
    return None


def _reasoning_anthropic(value: Any, body: Mapping[str, Any]) -> str | None:
    if value is None or REASONING_BUDGETS.get(value) is None:
        return None
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return "'reasoning_effort' needs 'temperature' unset or 1 on this model."
    top_p = body.get("top_p")
    if top_p is not None and not 0.95 <= top_p <= 1:
        return "'reasoning_effort' needs 'top_p' unset or between 0.95 and 1 on this model."
    choice = body.get("tool_choice")
    if choice not in (None, "auto", "none"):
        return "'reasoning_effort' allows only tool_choice 'auto' or 'none' on this model."
    return None


def _response_format_anthropic(value: Any, body: Mapping[str, Any]) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in (None, "text"):
        return None
    return f"response_format {kind!r} is not supported by this model."


def _store(value: Any, body: Mapping[str, Any]) -> str | None:
    if value is True:
        return "'store': true is not supported: providers do not keep your conversations."
    return None


def _service_tier(value: Any, body: Mapping[str, Any]) -> str | None:
    if value in (None, "auto", "default"):
        return None
    return f"'service_tier' {value!r} is not offered; use 'auto' or leave it out."


def _modalities(value: Any, body: Mapping[str, Any]) -> str | None:
    if value is None or value == ["text"]:
        return None
    return "Only 'modalities': ['text'] is supported."


def _n(value: Any, body: Mapping[str, Any]) -> str | None:
    return None if value in (None, 1) else "Only n=1 is supported."


_BOTH_PASSED = Rule("passed")


def _same(rule: Rule) -> dict[str, Rule]:
    return {kind: rule for kind in KINDS}


_REFUSED_OUTPUT = Rule(
    "refused",
    "its output has no place in the chat.completion Sekisho returns",
)

PARAMETERS: dict[str, dict[str, Rule]] = {
    "model": _same(Rule("translated", "the alias; replaced by the route's upstream model")),
    "messages": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule(
            "translated",
            "system/developer turns join `system`; turns merged to alternate; tool calls "
            "become `tool_use`, tool results `tool_result` blocks; images become image blocks",
        ),
    },
    "stream": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`stream: true` only when streaming"),
    },
    "stream_options": _same(
        Rule(
            "translated",
            "usage is always requested upstream (for the request log); `include_usage` "
            "decides whether the client sees it",
        )
    ),
    "max_tokens": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`max_tokens` (default 4096 when absent)"),
    },
    "max_completion_tokens": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`max_tokens`; wins over `max_tokens`"),
    },
    "temperature": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule(
            "translated", "passed from 0 to 1; above 1 refused", _temperature_anthropic
        ),
    },
    "top_p": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule(
            "translated",
            "passed alone; with `temperature` refused (the model takes only one), "
            "except `top_p: 1`, which means unset",
            _top_p_anthropic,
        ),
    },
    "n": {
        "openai": Rule("passed", "only 1 (the default) is accepted", _n),
        "anthropic": Rule("translated", "only 1 (the default) is accepted", _n),
    },
    "stop": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`stop_sequences`"),
    },
    "tools": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`tools` with `input_schema`"),
    },
    "tool_choice": {
        "openai": Rule("passed", "without `tools`, only `auto`/`none` (no-ops) are accepted"),
        "anthropic": Rule(
            "translated",
            "auto->auto, required->any, a named function->tool, none->none; without "
            "`tools`, only `auto`/`none` (no-ops) are accepted",
        ),
    },
    "parallel_tool_calls": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "false -> `disable_parallel_tool_use`"),
    },
    "presence_penalty": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("refused", no_op=(0, 0.0)),
    },
    "frequency_penalty": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("refused", no_op=(0, 0.0)),
    },
    "seed": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "logit_bias": {"openai": _BOTH_PASSED, "anthropic": Rule("refused", no_op=({},))},
    "logprobs": {"openai": _BOTH_PASSED, "anthropic": Rule("refused", no_op=(False,))},
    "top_logprobs": {"openai": _BOTH_PASSED, "anthropic": Rule("refused", no_op=(0,))},
    "response_format": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule(
            "translated", "`text` only; JSON modes refused", _response_format_anthropic
        ),
    },
    "reasoning_effort": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule(
            "translated",
            "extended thinking with `budget_tokens`: "
            + ", ".join(f"{k} {v if v else 'off'}" for k, v in REASONING_BUDGETS.items())
            + "; `max_tokens` grows by the budget when the client set no limit; needs "
            "temperature unset or 1 and tool_choice auto/none",
            _reasoning_anthropic,
        ),
    },
    "verbosity": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "prediction": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "prompt_cache_key": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "prompt_cache_retention": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "prompt_cache_options": {"openai": _BOTH_PASSED, "anthropic": Rule("refused")},
    "modalities": _same(Rule("translated", 'only `["text"]` (the default)', _modalities)),
    "audio": _same(_REFUSED_OUTPUT),
    "web_search_options": _same(
        Rule("refused", "web search is not a gateway capability; its annotations would be lost")
    ),
    "functions": _same(Rule("refused", "deprecated by the spec; use `tools`")),
    "function_call": _same(Rule("refused", "deprecated by the spec; use `tool_choice`")),
    "moderation": _same(Rule("refused", "guardrails are the gateway's own policy")),
    "store": _same(
        Rule(
            "translated",
            "`false` (the default) accepted and not forwarded; `true` refused",
            _store,
        )
    ),
    "metadata": _same(
        Rule("withheld", "the tenant's labels; only meaningful with `store`, which is refused")
    ),
    "service_tier": _same(
        Rule(
            "translated",
            "`auto`/`default` accepted (the operator's contract decides the tier); others refused",
            _service_tier,
        )
    ),
    "user": _same(Rule("withheld", "the tenant's end-user identifier")),
    "safety_identifier": _same(Rule("withheld", "the tenant's end-user identifier")),
}

# Fields inside `messages[i]` (any role), same dispositions.
MESSAGE_FIELDS: dict[str, dict[str, Rule]] = {
    "role": {"openai": _BOTH_PASSED, "anthropic": Rule("translated", "see `messages`")},
    "content": {"openai": _BOTH_PASSED, "anthropic": Rule("translated", "content blocks")},
    "name": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("refused", "the Messages API has no participant names"),
    },
    "tool_calls": {"openai": _BOTH_PASSED, "anthropic": Rule("translated", "`tool_use` blocks")},
    "tool_call_id": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "`tool_result.tool_use_id`"),
    },
    "refusal": {
        "openai": _BOTH_PASSED,
        "anthropic": Rule("translated", "a text block of the assistant turn"),
    },
    "audio": _same(Rule("refused", "audio output is not supported")),
    "function_call": _same(Rule("refused", "deprecated by the spec; use `tool_calls`")),
}


def _refusal(name: str, rule: Rule, value: Any, body: Mapping[str, Any]) -> str | None:
    if value is None:
        return None
    if rule.disposition == "refused":
        if any(value == ok and type(value) is type(ok) for ok in rule.no_op):
            return None
        why = f" ({rule.note})" if rule.note else ""
        return f"'{name}' is not supported by this model{why}."
    return rule.check(value, body) if rule.check else None


def check_parameters(body: Mapping[str, Any], kind: str) -> None:
    """Refuse, naming the parameter, whatever the table says `kind` cannot carry."""
    for name, value in body.items():
        rules = PARAMETERS.get(name)
        if rules is None:
            raise InvalidRequest(f"Unrecognized request argument: {name}.", param=name)
        if (message := _refusal(name, rules[kind], value, body)) is not None:
            raise InvalidRequest(message, param=name)
    tool_choice = body.get("tool_choice")
    if not body.get("tools") and tool_choice not in (None, "auto", "none"):
        raise InvalidRequest("'tool_choice' needs 'tools' to choose from.", param="tool_choice")
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict):
            continue
        for field, value in message.items():
            rules = MESSAGE_FIELDS.get(field)
            where = f"messages[{i}].{field}"
            if rules is None:
                raise InvalidRequest(f"Unrecognized message field: {where}.", param="messages")
            if (text := _refusal(where, rules[kind], value, body)) is not None:
                raise InvalidRequest(text, param="messages")


def forwarded_parameters(kind: str) -> frozenset[str]:
    """The top-level parameters `kind` forwards unchanged."""
    return frozenset(n for n, rules in PARAMETERS.items() if rules[kind].disposition == "passed")


def render_markdown() -> str:
    """The parameter table of docs/api.md (between its BEGIN/END markers)."""
    lines = [
        "| parameter | OpenAI-compatible routes | Anthropic routes |",
        "|---|---|---|",
    ]

    def cell(rule: Rule) -> str:
        text = f"**{rule.disposition}**"
        if rule.disposition == "refused" and rule.no_op:
            accepted = ", ".join(f"`{json.dumps(v)}`" for v in rule.no_op)
            text += f" (accepted as a no-op: {accepted})"
        return text + (f": {rule.note}" if rule.note else "")

    for prefix, table in (("", PARAMETERS), ("messages[].", MESSAGE_FIELDS)):
        for name, rules in table.items():
            lines.append(
                f"| `{prefix}{name}` | {cell(rules['openai'])} | {cell(rules['anthropic'])} |"
            )
    return "\n".join(lines) + "\n"


BEGIN_MARKER = "<!-- BEGIN parameter table (generated: python -m sekisho.adapters.params) -->"
END_MARKER = "<!-- END parameter table -->"


def replace_section(text: str) -> str:
    """`text` (docs/api.md) with its generated parameter table brought up to date."""
    head, begin, rest = text.partition(BEGIN_MARKER)
    _, end, tail = rest.partition(END_MARKER)
    if not begin or not end:
        raise ValueError("docs/api.md lacks the parameter table markers")
    return f"{head}{BEGIN_MARKER}\n{render_markdown()}{END_MARKER}{tail}"


if __name__ == "__main__":  # pragma: no cover - a developer tool
    import sys
    from pathlib import Path

    doc = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
    doc.write_text(replace_section(doc.read_text()))
