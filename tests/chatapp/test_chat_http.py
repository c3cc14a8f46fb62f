"""The chat app over HTTP without a browser: sign-in, JSON routes, streaming, isolation, CSRF."""

from __future__ import annotations

import httpx
import orjson

from tests.chatapp.conftest import MEMBER_A, ChatEnv, member_client

SAME = {"sec-fetch-site": "same-origin"}


def _events(resp: httpx.Response) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in resp.text.splitlines() if line]


def test_a_member_chats_and_the_answer_is_stored(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        h = {"x-csrf-token": csrf, **SAME}
        made = client.post(chat_env.url + "/api/conversations", json={"alias": "chat-large"}, headers=h)
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        resp = client.post(
            f"{chat_env.url}/api/conversations/{cid}/messages",
            json={"content": "Hello there"},
            headers=h,
        )
        assert resp.status_code == 200, resp.text
        events = _events(resp)
        print(events)
        shown = client.get(f"{chat_env.url}/api/conversations/{cid}").json()
        print(shown)
