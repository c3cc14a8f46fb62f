"""Post to the ops channel: a Slack-compatible incoming webhook (`{"text": ...}`).

Internal audience: messages may name providers. Posting is best effort and
never undoes the change it reports; failures are counted and logged, and the
CLI prints a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


class OpsChannel:
    def __init__(self, url: str | None, timeout_s: float = 3.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.sent = 0
        self.failures = 0

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def post(self, text: str) -> bool:
        """POST one message; True when delivered (or nothing is configured)."""
        if not self.url:
            return True
        body = json.dumps({"text": text, "username": "sekisho"}).encode()
        req = urllib.request.Request(
            self.url, data=body, method="POST", headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                ok = 200 <= int(resp.status) < 300
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("ops channel post failed: %s", exc)
            ok = False
        if ok:
            self.sent += 1
        else:
            self.failures += 1
        return ok

    async def post_async(self, text: str) -> bool:
        delivered: bool = await asyncio.to_thread(self.post, text)
        return delivered
