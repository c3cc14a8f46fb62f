"""Publishing signed checkpoints outside the database: a directory, a webhook.

A published checkpoint is what lets an auditor notice a truncated or forked
ledger even if the database and its checkpoint table were rewritten.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Protocol

__all__ = ["DirectoryPublisher", "Publisher", "WebhookPublisher"]


class Publisher(Protocol):
    """Somewhere a signed checkpoint is sent; raises OSError on failure."""

    def publish(self, ledger: str, size: int, note: str) -> str: ...


class DirectoryPublisher:
    """Writes ``<dir>/<ledger>/<size>.checkpoint`` and ``latest.checkpoint`` atomically."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def publish(self, ledger: str, size: int, note: str) -> str:
        folder = self.directory / ledger
        folder.mkdir(parents=True, exist_ok=True)
        fixed = folder / f"{size:012d}.checkpoint"
        # Write-once: a different note for a size already published is a fork.
        if fixed.exists() and fixed.read_text(encoding="utf-8") != note:
            raise OSError(f"{fixed} already holds a different checkpoint (forked history?)")
        for target in (fixed, folder / "latest.checkpoint"):
            tmp = folder / f".{target.name}.{os.getpid()}.tmp"
            tmp.write_text(note, encoding="utf-8")
            tmp.replace(target)
        return str(fixed)


class WebhookPublisher:
    """POSTs ``{"ledger", "size", "checkpoint"}`` as JSON to a URL."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url = url
        self.timeout_s = timeout_s

    def publish(self, ledger: str, size: int, note: str) -> str:
        body = json.dumps({"ledger": ledger, "size": size, "checkpoint": note}).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if response.status >= 300:
                raise OSError(f"webhook answered {response.status}")
        return self.url
