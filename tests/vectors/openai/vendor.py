"""Re-vendor the OpenAI schema subset the tests use: `python tests/vectors/openai/vendor.py SRC`.

SRC is the official openapi.json (openai/openai-openapi, MIT). The subset is
each named schema with every schema it references, unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = [
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
    "CreateResponse",
    "Response",
    "ResponseStreamEvent",
    "ListModelsResponse",
    "Model",
    "ErrorResponse",
]


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def subset(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc["components"]["schemas"]
    wanted: set[str] = set()
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - wanted)
    return {
        "info": {
            "source": "openai/openai-openapi openapi.json, version " + doc["info"]["version"],
            "license": doc["info"].get("license"),
        },
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text())
    out = Path(__file__).with_name("schemas.json")
    out.write_text(json.dumps(subset(source), indent=1, sort_keys=True) + "\n")
