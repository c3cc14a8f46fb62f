"""The Markdown report of one results JSON (also: `python -m bench.report FILE.json`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

GOALS = {
    "added_p50_ms": 1.0,
    "added_p99_ms": 3.0,
    "throughput_x_litellm": 5.0,
    "added_ttfc_ms": 1.0,
    "added_p99_at_rate_ms": 10.0,
}


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def latency_section(res: dict[str, Any]) -> list[str]:
    out = ["### Added latency at concurrency 1 (interleaved rounds)", ""]
    rows = []
    for scenario, entry in res.items():
        for name, s in entry.items():
            rows.append(
                [
                    scenario,
                    name,
                    _f(s.get("n")),
                    _f(s.get("p50"), 3),
                    _f(s.get("p99"), 3),
                    "" if name == "direct" else _f(s.get("added_p50"), 3),
                    "" if name == "direct" else _f(s.get("added_p99"), 3),
                    _f(s.get("errors")),
                ]
            )
    out += _table(
        [
            "upstream",
            "target",
            "requests",
            "p50 ms",
            "p99 ms",
            "added p50 ms",
            "added p99 ms",
            "errors",
        ],
        rows,
    )
    return [*out, ""]


def rate_section(res: dict[str, Any]) -> list[str]:
    steps: dict[str, list[dict[str, Any]]] = res["steps"]
    out = [
        f"### Constant-rate steps ({res['scenario']} responses, open loop, "
        f"{res['seconds_per_step']:g} s per step, timeout {res['timeout_ms']} ms)",
        "",
        "Each cell: success rate / added p50 / added p99 (ms) against direct at the same rate; "
        "direct shows its own p50 / p99. ✓ = 99.9% success and added p99 ≤ 10 ms.",
        "",
    ]
    names = list(steps)
    rates = sorted({s["rate"] for v in steps.values() for s in v})
    rows = []
    for rate in rates:
        row = [f"{rate:g}"]
        for name in names:
            step = next((s for s in steps[name] if s["rate"] == rate), None)
            if step is None:
                row.append("")
            elif name == "direct":
                row.append(
                    f"{step['success'] * 100:.2f}% / {_f(step.get('p50'), 2)} / "
                    f"{_f(step.get('p99'), 2)}"
                )
            else:
                mark = " ✓" if step.get("meets_goal") else ""
                row.append(
                    f"{step['success'] * 100:.2f}% / {_f(step.get('added_p50'), 2)} / "
                    f"{_f(step.get('added_p99'), 2)}{mark}"
                )
        rows.append(row)
    out += _table(["rate /s", *names], rows)
    out += [
        "",
        "Highest rate meeting 99.9% success and added p99 ≤ 10 ms: "
        + ", ".join(f"**{name}** {rate:g}/s" for name, rate in res["ceiling_rps"].items())
        + f"; direct sustained {res['direct_highest_ok_rps']:g}/s.",
        "",
        "Highest rate with 99.9% success, whatever the latency: "
        + ", ".join(f"**{name}** {rate:g}/s" for name, rate in success_ceilings(res).items())
        + ".",
        "",
    ]
    return out


def success_ceilings(res: dict[str, Any]) -> dict[str, float]:
    """Per gateway, the highest step rate with at least 99.9% success (latency ignored)."""
    return {
        name: max([s["rate"] for s in steps if s["success"] >= 0.999] or [0.0])
        for name, steps in res["steps"].items()
        if name != "direct"
    }


def stream_section(res: dict[str, Any]) -> list[str]:
    out = [
        f"### Streaming ({res['scenario']}: 64 chunks 20 ms apart), "
        f"{res['concurrency']} concurrent stream(s)",
        "",
    ]
    rows = []
    for name, s in res["targets"].items():
        ttfc, gap = s["ttfc"], s["gap"]
        rows.append(
            [
                name,
                _f(s["streams"]),
                _f(ttfc.get("p50"), 3),
                _f(ttfc.get("p99"), 3),
                "" if name == "direct" else _f(s.get("added_ttfc_p50"), 3),
                "" if name == "direct" else _f(s.get("added_ttfc_p99"), 3),
                _f(gap.get("p50"), 2),
                _f(gap.get("p99"), 2),
                _f(gap.get("max"), 2),
                ",".join(map(str, s["frames_per_stream"])),
                _f(s["reads_with_several_frames"]),
                _f(s["error_count"]),
            ]
        )
    out += _table(
        [
            "target",
            "streams",
            "TTFC p50 ms",
            "TTFC p99 ms",
            "added TTFC p50",
            "added TTFC p99",
            "gap p50 ms",
            "gap p99 ms",
            "gap max ms",
            "content frames",
            "reads with >1 frame",
            "errors",
        ],
        rows,
    )
    return [*out, ""]


def memory_section(res: dict[str, Any]) -> list[str]:
    out = ["### Memory over a 100,000-request run (loadgen, closed loop, 16 connections)", ""]
    rows = []
    for name, m in res.items():

        def mib(kb: Any) -> str:
            return "-" if kb is None else f"{kb / 1024:.1f}"

        rows.append(
            [
                name,
                _f(m.get("requests")),
                _f(m.get("requests_per_s"), 0),
                _f(m.get("failed")),
                mib(m.get("rss_start_kb")),
                mib(m.get("rss_before_kb")),
                mib(m.get("rss_first_third_avg_kb")),
                mib(m.get("rss_last_third_avg_kb")),
                mib(m.get("rss_during_max_kb")),
                mib(m.get("rss_after_kb")),
            ]
        )
    out += _table(
        [
            "target",
            "requests",
            "req/s",
            "failed",
            "RSS at start MiB",
            "before MiB",
            "during (first third) MiB",
            "during (last third) MiB",
            "during max MiB",
            "after MiB",
        ],
        rows,
    )
    return [*out, ""]


def wrk_section(res: dict[str, Any]) -> list[str]:
    out = ["### Closed-loop throughput (wrk, 32 connections, small responses)", ""]
    rows = [
        [
            name,
            _f(r.get("requests_per_s"), 0),
            _f(r.get("non_2xx", 0)),
            str(r.get("socket_errors") or ""),
        ]
        for name, r in res.items()
    ]
    return [*out, *_table(["target", "req/s", "non-2xx", "socket errors"], rows), ""]


def goals_section(doc: dict[str, Any]) -> list[str]:
    out = ["### Against the targets (issue 7)", ""]
    c1 = doc.get("latency_c1", {}).get("small", {})
    ceilings = doc.get("rate_steps", {}).get("ceiling_rps", {})
    stream = doc.get("stream_c1", {}).get("targets", {})
    lite = ceilings.get("litellm")
    for name in (n for n in c1 if n.startswith("sekisho")):
        s = c1[name]
        ok50 = s.get("added_p50") is not None and s["added_p50"] <= GOALS["added_p50_ms"]
        ok99 = s.get("added_p99") is not None and s["added_p99"] <= GOALS["added_p99_ms"]
        out.append(
            f"- {name}: added p50 {_f(s.get('added_p50'), 3)} ms (goal ≤ 1: "
            f"{'met' if ok50 else 'NOT met'}), added p99 {_f(s.get('added_p99'), 3)} ms "
            f"(goal ≤ 3: {'met' if ok99 else 'NOT met'}) at concurrency 1."
        )
        if name in ceilings:
            lite_ok = success_ceilings(doc["rate_steps"]).get("litellm")
            if lite:
                ratio = ceilings[name] / lite
                vs = f"; LiteLLM {lite:g}/s, ratio {ratio:.1f}x (goal ≥ 5x: {'met' if ratio >= 5 else 'NOT met'})."
            elif lite_ok:
                ratio = ceilings[name] / lite_ok
                vs = (
                    f"; LiteLLM met added p99 ≤ 10 ms at no rate, and kept 99.9% success up to "
                    f"{lite_ok:g}/s: ratio {ratio:.0f}x (goal ≥ 5x: {'met' if ratio >= 5 else 'NOT met'})."
                )
            else:
                vs = "; LiteLLM not measured in this run."
            out.append(
                f"  Sustained {ceilings[name]:g}/s with 99.9% success and added p99 ≤ 10 ms{vs}"
            )
        if name in stream:
            added = stream[name].get("added_ttfc_p50")
            several = stream[name].get("reads_with_several_frames")
            out.append(
                f"  Streaming: added TTFC p50 {_f(added, 3)} ms (goal ≤ 1: "
                f"{'met' if added is not None and added <= 1 else 'NOT met'}); "
                f"reads holding more than one content frame: {several}."
            )
    mem = doc.get("memory", {})
    for name, m in mem.items():
        first, last = m.get("rss_first_third_avg_kb"), m.get("rss_last_third_avg_kb")
        if first and last:
            growth = (last - first) / 1024
            out.append(
                f"- {name} memory: {growth:+.1f} MiB between the first and last third "
                f"of the run; after {m['rss_after_kb'] / 1024:.1f} MiB."
            )
    return [*out, ""]


def environment_section(doc: dict[str, Any]) -> list[str]:
    env = doc["environment"]
    out = ["### Environment", ""]
    for key in (
        "date",
        "mode",
        "cpu_model",
        "cpus",
        "kernel",
        "python",
        "git_commit",
        "loadavg_start",
        "loadavg_end",
        "postgresql",
        "wrk",
        "pinning",
    ):
        if key in env:
            out.append(f"- {key}: {env[key]}")
    out.append("- packages: " + ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items()))
    out += ["", "Commands (load generator and servers, as run):", "", "```"]
    out += doc.get("commands", [])
    return [*out, "```", ""]


def many_streams_section(data: dict[str, Any]) -> list[str]:
    out = [
        f"### {data['streams']} streams open at once, one worker "
        f"({data['scenario']}: 250 chunks 20 ms apart, opened over {data['ramp_s']:g} s)",
        "",
        "| target | ok | gap p50 ms | gap p99 ms | gap max ms | added gap p99 ms "
        "| TTFC p50 ms | TTFC p99 ms | RSS open MiB | KiB per open stream | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in data["targets"].items():
        gap, ttfc = e.get("gap", {}), e.get("ttfc", {})
        rss = e.get("rss_open_kb")
        out.append(
            f"| {name} | {e['ok']}/{e['streams']} | {gap.get('p50', '')} | {gap.get('p99', '')} "
            f"| {gap.get('max', '')} | {e.get('added_gap_p99', '')} | {ttfc.get('p50', '')} "
            f"| {ttfc.get('p99', '')} | {round(rss / 1024, 1) if rss else ''} "
            f"| {e.get('kb_per_open_stream', '')} | {e['error_count']} |"
        )
    return [*out, ""]


def render(doc: dict[str, Any]) -> str:
    lines = [
        f"## Sekisho benchmark ({doc['environment']['mode']}, {doc['environment']['date']})",
        "",
    ]
    if doc.get("notes"):
        lines += [f"- {n}" for n in doc["notes"]] + [""]
    if "latency_c1" in doc:
        lines += latency_section(doc["latency_c1"])
    if "rate_steps" in doc:
        lines += rate_section(doc["rate_steps"])
    for key in ("stream_c1", "stream_concurrent"):
        if key in doc:
            lines += stream_section(doc[key])
    if "many_streams" in doc:
        lines += many_streams_section(doc["many_streams"])
    if "wrk_throughput" in doc:
        lines += wrk_section(doc["wrk_throughput"])
    if "memory" in doc:
        lines += memory_section(doc["memory"])
    lines += goals_section(doc)
    lines += environment_section(doc)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
