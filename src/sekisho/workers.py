"""`sekisho serve --workers N`: N gateway processes on one port, each a replica.

`sekisho.serve` binds the listening socket first (a taken port fails at once, loudly), then
the supervisor forks N workers that accept on the shared socket; the kernel spreads connections among them.
Each worker builds its own gateway (its own database pool, caches, circuits and replica id)
after the fork, so nothing is shared but the socket: as far as invalidation, circuits and
quotas go, every worker is a replica like any other (quotas across workers need Redis, or
count per worker with its share of each limit — see docs/quotas.md).

Signals: SIGTERM / SIGINT → every worker shuts down gracefully (in-flight requests drain for
up to `listen.graceful_shutdown_s`), then the supervisor exits. SIGHUP → every worker reloads
the provider matrix. A worker that dies is replaced, at most once a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

RESTART_MIN_INTERVAL_S = 1.0
QUICK_EXIT_S = 10.0  # a worker that dies this soon after starting did not start
MAX_QUICK_FAILURES = 3


def supervise(sock: socket.socket, workers: int, serve_one: Callable[[socket.socket], None]) -> int:
    """Fork `workers` processes running `serve_one(sock)`; return the exit status."""
    children: dict[int, float] = {}  # pid -> started at
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            code = 0
            try:
                serve_one(sock)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    for _ in range(workers):
        spawn()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = 0
    quick_failures = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None:
            continue
        if stopping:
            exit_code = os.waitstatus_to_exitcode(code)
            # uvicorn re-raises the SIGTERM it drained on: dying by it is a clean stop.
            if exit_code not in (0, -signal.SIGTERM):
                status = 1
            continue
        exit_code = os.waitstatus_to_exitcode(code)
        quick_failures = quick_failures + 1 if time.monotonic() - started < QUICK_EXIT_S else 0
        if quick_failures >= MAX_QUICK_FAILURES:  # it cannot start: stop, do not spin
            log.error("workers keep failing at start-up (last exit %d); stopping", exit_code)
            stopping, status = True, 1
            forward(signal.SIGTERM, None)
            continue
        log.warning("worker %d exited (%d); starting another", pid, exit_code)
        wait = RESTART_MIN_INTERVAL_S - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        spawn()
    sock.close()
    return status
