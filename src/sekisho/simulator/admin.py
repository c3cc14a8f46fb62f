"""The admin API under ``/_sim``: inject and clear faults, read counters, reset.

POST   /_sim/{provider}/faults   queue a fault (object) or faults (list); returns the queue
GET    /_sim/{provider}/faults   the queue
DELETE /_sim/{provider}/faults   clear one provider's faults
DELETE /_sim/faults              clear every provider's faults
GET    /_sim/{provider}/stats    counters and the last request of one provider
GET    /_sim/stats               the same for every provider seen
POST   /_sim/{provider}/release  let the streams held by a `hold_after` fault go on
POST   /_sim/reset               forget all faults and counters
GET    /_sim/health              liveness
"""

from __future__ import annotations

import orjson
from aiohttp import web

from sekisho.simulator.faults import FaultError
from sekisho.simulator.identity import PROVIDER_PATTERN
from sekisho.simulator.state import STATE


def add_admin_routes(router: web.UrlDispatcher) -> None:
    provider = f"/_sim/{{provider:{PROVIDER_PATTERN}}}"
    router.add_post(f"{provider}/faults", _add_faults)
    router.add_get(f"{provider}/faults", _list_faults)
    router.add_delete(f"{provider}/faults", _clear_faults)
    router.add_delete("/_sim/faults", _clear_all_faults)
    router.add_get(f"{provider}/stats", _stats)
    router.add_post(f"{provider}/release", _release)
    router.add_get("/_sim/stats", _all_stats)
    router.add_post("/_sim/reset", _reset)
    router.add_get("/_sim/health", _health)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _faults_of(request: web.Request) -> web.Response:
    name = request.match_info["provider"]
    return _json({"provider": name, "faults": request.app[STATE].faults(name)})


async def _add_faults(request: web.Request) -> web.Response:
    name = request.match_info["provider"]
    try:
        raw = orjson.loads(await request.read())
        faults = request.app[STATE].add_faults(name, raw)
    except orjson.JSONDecodeError as exc:
        return _json({"error": f"the fault body is not JSON: {exc}"}, 400)
    except FaultError as exc:
        return _json({"error": str(exc)}, 400)
    return _json({"provider": name, "faults": faults})


async def _list_faults(request: web.Request) -> web.Response:
    return _faults_of(request)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].clear_faults(request.match_info["provider"])
    return _faults_of(request)


async def _clear_all_faults(request: web.Request) -> web.Response:
    request.app[STATE].clear_faults()
    return _json({"cleared": True})


async def _stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats(request.match_info["provider"]))


async def _all_stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].all_stats())


async def _release(request: web.Request) -> web.Response:
    released = request.app[STATE].provider(request.match_info["provider"]).release()
    return _json({"released": released})


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return _json({"reset": True})


async def _health(request: web.Request) -> web.Response:
    return _json({"ok": True})
