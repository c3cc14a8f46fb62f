"""Running the simulator: blocking (CLI, ``python -m``) or in a background thread (tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from sekisho.simulator.app import create_simulator_app
from sekisho.simulator.state import STATE, SimulatorState

_T = TypeVar("_T")
_START_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 0.2


def run_simulator(host: str = "127.0.0.1", port: int = 9100) -> None:
    """Serve the simulator until interrupted; prints its URL once listening."""
    url = f"http://{host}:{port}"

    def announce(*_: object) -> None:
        print(f"Sekisho provider simulator on {url} (base URL {url}/<provider>/v1)", flush=True)

    web.run_app(
        create_simulator_app(),
        host=host,
        port=port,
        print=announce,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
    )


class SimulatorServer:
    """The simulator on 127.0.0.1 (port 0 by default) in a thread with its own event loop.

    Use as a context manager. The sync helpers run on the server's loop, so
    they never race the requests it is serving.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def base_url(self, provider: str) -> str:
        """The OpenAI-style base URL of one simulated provider: ``{url}/{provider}/v1``."""
        return f"{self.url}/{provider}/v1"

    def start(self) -> SimulatorServer:
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(started, failure), name="sekisho-simulator", daemon=True
        )
        self._thread.start()
        if not started.wait(_START_TIMEOUT_S):
            raise RuntimeError("the simulator did not start in time")
        if failure:
            raise RuntimeError("the simulator failed to start") from failure[0]
        return self

    def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT_S)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_fault(self, provider: str, **fault: object) -> list[dict[str, object]]:
        """Queue one fault for a provider (fields as in the admin API); returns its queue."""
        return self._on_loop(lambda state: state.add_faults(provider, fault))

    def clear_faults(self, provider: str | None = None) -> None:
        self._on_loop(lambda state: state.clear_faults(provider))

    def stats(self, provider: str) -> dict[str, Any]:
        """Counters, last request and fault queue of one provider (zeros if never called)."""
        return self._on_loop(lambda state: state.stats(provider))

    def release(self, provider: str) -> int:
        """Let the streams held by a `hold_after` fault go on; returns how many were held."""
        return self._on_loop(lambda state: state.provider(provider).release())

    def reset(self) -> None:
        self._on_loop(lambda state: state.reset())

    def _on_loop(self, action: Callable[[SimulatorState], _T]) -> _T:
        if self._loop is None or self._runner is None:
            raise RuntimeError("the simulator is not running")
        state = self._runner.app[STATE]

        async def run() -> _T:
            return action(state)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(_START_TIMEOUT_S)

    def _serve(self, started: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
            self._loop = loop
        except BaseException as exc:  # handed to start(), which raises it in the caller
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _bind(self) -> None:
        runner = web.AppRunner(
            create_simulator_app(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
