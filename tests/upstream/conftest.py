"""Run each `async def` test here on both event loops the gateway may run on."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

import pytest
import uvloop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
TEST_DEADLINE_S = 10.0  # a hung client fails its test instead of the whole run


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def loop_factory(request: pytest.FixtureRequest) -> LoopFactory:
    """Production runs on uvloop (serve.py); the default loop covers library use and tests."""
    if request.param == "uvloop":
        return uvloop.new_event_loop
    return asyncio.new_event_loop


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    with asyncio.Runner(loop_factory=pyfuncitem.funcargs["loop_factory"]) as runner:
        runner.run(asyncio.wait_for(pyfuncitem.obj(**args), TEST_DEADLINE_S))
    return True
