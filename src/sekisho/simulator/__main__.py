"""``python -m sekisho.simulator [--host H] [--port P]``."""

from __future__ import annotations

import argparse

from sekisho.simulator.server import run_simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sekisho.simulator",
        description="Simulated LLM providers (OpenAI and Anthropic wire formats) with fault injection.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=9100, help="port to listen on (default 9100)")
    args = parser.parse_args(argv)
    run_simulator(args.host, args.port)


if __name__ == "__main__":
    main()
