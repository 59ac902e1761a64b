"""A node's configuration: its party, key, database, address and peers' URLs.

A TOML file, paths relative to the file::

    [node]
    party = "us"
    key = "us.key"
    db = "us.db"
    accord = "accord.toml"      # optional: the default accord otherwise
    host = "127.0.0.1"          # optional
    port = 8701
    skew_s = 30.0               # optional: clock-skew window, seconds

    [peers]
    ru = "http://127.0.0.1:8702"
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyaccord.errors import LineError
from skyaccord.line.node import DEFAULT_SKEW_S

__all__ = ["NodeConfig", "load_node_config", "parse_peer"]


@dataclass(frozen=True)
class NodeConfig:
    party: str
    key: Path
    db: Path
    port: int
    accord: Path | None = None
    host: str = "127.0.0.1"
    skew_s: float = DEFAULT_SKEW_S
    peers: dict[str, str] = field(default_factory=dict)


def parse_peer(text: str) -> tuple[str, str]:
    """``ru=http://host:port`` → (``ru``, URL)."""
    party, sep, url = text.partition("=")
    if not sep or not party or not url.startswith(("http://", "https://")):
        raise LineError(f"peer {text!r}: expected PARTY=http://HOST:PORT")
    return party.strip(), url.strip()


def load_node_config(path: str | Path) -> NodeConfig:
    """Read and check a node configuration file; errors name the file and key."""
    p = Path(path)
    try:
        tree: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LineError(f"{p}: cannot read node config: {exc}") from None
    node = tree.get("node")
    if not isinstance(node, dict):
        raise LineError(f"{p}: missing table [node]")
    allowed = {"party", "key", "db", "accord", "host", "port", "skew_s"}
    for k in node:
        if k not in allowed:
            raise LineError(f"{p}: key 'node.{k}': unknown; allowed: {', '.join(sorted(allowed))}")
    for k in ("party", "key", "db", "port"):
        if k not in node:
            raise LineError(f"{p}: key 'node.{k}': missing")
    port = node["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise LineError(f"{p}: key 'node.port': must be a port number, got {port!r}")
    skew = node.get("skew_s", DEFAULT_SKEW_S)
    if isinstance(skew, bool) or not isinstance(skew, int | float) or not (
            math.isfinite(skew) and skew > 0):
        raise LineError(f"{p}: key 'node.skew_s': must be a positive number of seconds")
    peers = tree.get("peers", {})
    if not isinstance(peers, dict) or not all(
            isinstance(v, str) and v.startswith(("http://", "https://")) for v in peers.values()):
        raise LineError(f"{p}: table [peers] must map party ids to http(s) URLs")
    base = p.parent
    return NodeConfig(
        party=str(node["party"]), key=base / str(node["key"]), db=base / str(node["db"]),
        port=port, accord=base / str(node["accord"]) if "accord" in node else None,
        host=str(node.get("host", "127.0.0.1")), skew_s=float(skew), peers=dict(peers))
