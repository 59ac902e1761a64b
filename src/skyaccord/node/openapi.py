"""The node API's OpenAPI document: generated from the app, committed beside this file.

``python -m skyaccord.node.openapi`` prints it; ``--write`` updates the committed copy
(``openapi.json``), which a test compares with what the code generates, so that a change
of the API cannot go unnoticed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["COMMITTED", "generate"]

COMMITTED = Path(__file__).with_name("openapi.json")


def generate() -> dict[str, Any]:
    """The document of a node's app (built on a throwaway node: no state matters)."""
    from skyaccord.node.config import load_settings
    from skyaccord.node.service import init_node, open_node

    with tempfile.TemporaryDirectory() as tmp:
        config, _, _ = init_node(Path(tmp) / "n", "us")
        node = open_node(load_settings(config))
        try:
            doc = node.app(tick=False, deliver=False).openapi()
        finally:
            node.runtime.line.close()
    doc["info"]["title"] = "skyaccord node"
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    text = dumps(generate())
    if "--write" in sys.argv[1:]:
        COMMITTED.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
