"""Prompt-injection heuristics: role and delimiter smuggling, instruction-override phrases.

English and Japanese. A keyword automaton (Aho-Corasick) finds the trigger
words in one pass; only around a trigger is the full phrase pattern tried.
These are heuristics: the default action is `flag`, which records and lets
the request through.
"""

from __future__ import annotations

import re

import ahocorasick

from sekisho.guardrails.findings import Hit

# Chat-template tokens and role headers that have no business inside user content.
_DELIMITERS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|system|>",
    "<|assistant|>",
    "<|user|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "[inst]",
    "[/inst]",
    "<<sys>>",
    "<</sys>>",
    "</system>",
    "<system>",
)
# A role header in user content, followed by what reads as an instruction to the model.
_ROLE_LINE = re.compile(
    r"(?im)^[ \t]*(?:#{1,3}[ \t]*)?(system|assistant|developer)[ \t]*(?::|\uff1a)[ \t]*"
    r"(?:you\b|ignore|disregard|forget|from\s+now|new\s+(?:instructions|rules)|override|"
    r"act\s+as|pretend|あなた|以後|これから|今から|以下の指示)"
)

_PHRASES = re.compile(
    r"(?is)"
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[\s\w,'\"-]{0,30}?"
    r"\b(?:previous|prior|above|earlier|preceding|all|any|your|the|system|safety|original)\b[\s\w,'\"-]{0,30}?"
    r"\b(?:instructions?|prompts?|rules|directions|guidelines|guardrails|restrictions|polic(?:y|ies)|messages?)\b"
    r"|\byou\s+are\s+now\s+(?:dan|in\s+developer\s+mode|jailbroken|unrestricted|an?\s+unfiltered)\b"
    r"|\b(?:enable|enter|activate)\s+(?:developer|dan|god|jailbreak)\s+mode\b"
    r"|\bdo\s+anything\s+now\b"
    r"|\b(?:reveal|print|show|repeat|output|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|hidden\s+|original\s+|initial\s+)?(?:system\s+prompt|hidden\s+instructions|instructions\s+above)\b"
    r"|\bpretend\s+(?:that\s+)?you\s+(?:have\s+no|are\s+not\s+bound\s+by)\s+(?:rules|restrictions|guidelines)\b"
    r"|(?:これまで|以前|前|上記|先ほど|今まで|最初)の(?:すべての|全ての)?(?:指示|命令|ルール|プロンプト|設定|制約)(?:を|は)(?:すべて|全て)?(?:無視|忘れ|破棄|取り消)"
    r"|(?:指示|命令|ルール|制約|制限)を(?:すべて|全て)?(?:無視|解除)して"
    r"|システムプロンプトを(?:表示|出力|教え|見せ|開示|繰り返)"
    r"|(?:開発者|デベロッパー|ジェイルブレイク|脱獄)モード"
    r"|あなたは(?:今から|これから)(?:制限のない|何でもできる|自由な)"
)
_TRIGGERS = (
    "ignore", "disregard", "forget", "override", "bypass", "skip", "you are now", "mode",
    "do anything now", "reveal", "print", "show", "repeat", "output", "leak", "tell me",
    "pretend", "無視", "忘れ", "破棄", "取り消", "解除", "システムプロンプト", "モード",
    "あなたは",
)  # fmt: skip
_ROLES = ("system", "assistant", "developer")
_REACH = 160  # how far around a trigger the phrase pattern looks


def _automaton(words: tuple[str, ...]) -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for word in words:
        auto.add_word(word, word)
    auto.make_automaton()
    return auto


class PromptInjectionDetector:
    check = "prompt_injection"
    max_len = 200

    def __init__(self) -> None:
        # One automaton, one pass: delimiters, phrase triggers and role words.
        self._words = ahocorasick.Automaton()
        for kind, words in (("delim", _DELIMITERS), ("trigger", _TRIGGERS), ("role", _ROLES)):
            for word in words:
                self._words.add_word(word, (kind, word))
        self._words.make_automaton()
        self._delims = _automaton(_DELIMITERS)
        self._triggers = _automaton(_TRIGGERS)

    def hits(self, text: str) -> list[Hit]:
        lower = text.lower()
        out: list[Hit] = []
        triggers: list[int] = []
        roles = False
        for end, (kind, word) in self._words.iter(lower):
            if kind == "delim":
                out.append(Hit(end + 1 - len(word), end + 1, "delimiter_smuggling", 0.9))
            elif kind == "trigger":
                triggers.append(end)
            else:
                roles = True
        if roles:
            out += [
                Hit(m.start(1), m.end(), "role_smuggling", 0.6) for m in _ROLE_LINE.finditer(text)
            ]
        seen_until = -1
        for end in triggers:
            if end < seen_until:
                continue
            lo = max(0, end - _REACH)
            for m in _PHRASES.finditer(text, lo, min(len(text), end + _REACH)):
                if m.start() >= seen_until:
                    out.append(Hit(m.start(), m.end(), "instruction_override", 0.8))
                    seen_until = m.end()
            seen_until = max(seen_until, end)
        return out

    def hold_from(self, text: str) -> int:
        # Any phrase may still be completing within the last `max_len` characters.
        start = max(0, len(text) - self.max_len)
        lower = text[start:].lower()
        found = [end + 1 - len(word) for end, word in self._triggers.iter(lower)]
        found += [end + 1 - len(word) for end, word in self._delims.iter(lower)]
        return start + min(found) if found else _partial_tail(lower, start, len(text))


def _partial_tail(lower: str, offset: int, length: int) -> int:
    for k in range(min(16, len(lower)), 0, -1):
        tail = lower[-k:]
        if any(w.startswith(tail) for w in (*_DELIMITERS, *_TRIGGERS)):
            return length - k
    return length
