"""Open a node from its settings: accord, key, line log, registry, zones, rules, tokens.

:func:`open_node` checks everything before it creates anything, so a node that cannot
start leaves no file behind; :func:`init_node` writes a new node's directory.
"""

from __future__ import annotations

import json
import ssl
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from skyaccord.airspace.zones import Zone, load_zones_geojson, theatre_borders, zones_from_accord
from skyaccord.errors import InputError, SkyaccordError
from skyaccord.line.keys import generate_key, load_key, public_key_b64
from skyaccord.line.node import Node
from skyaccord.line.peer import HttpPeer
from skyaccord.line.store import LineStore
from skyaccord.node.app import create_app
from skyaccord.node.auth import Role, TokenStore
from skyaccord.node.config import NodeSettings, require_owner_only, write_owner_only
from skyaccord.node.runtime import NodeRuntime
from skyaccord.picture import PartyRules
from skyaccord.protocol import Accord, default_accord, load_accord

__all__ = ["OpenNode", "init_node", "node_zones", "open_node"]


@dataclass
class OpenNode:
    settings: NodeSettings
    runtime: NodeRuntime
    tokens: TokenStore
    registry: Any

    def app(self, *, tick: bool = True, deliver: bool = True,
            routers: Sequence[APIRouter] = ()) -> FastAPI:
        """The node's app; ``routers`` are mounted beside its own, each bringing its own
        authentication (e.g. the F3548 DSS's ``skyaccord.dss.dss_router``)."""
        app = create_app(self.runtime, self.tokens, registry=self.registry,
                         max_body_bytes=self.settings.max_body_bytes,
                         tick_s=self.settings.tick_s if tick else None,
                         feeds=self.settings.feeds, deliver=deliver,
                         tiles=self.settings.tiles)
        for router in routers:
            app.include_router(router)
        return app


def node_zones(accord: Accord, *, borders: bool = True,
               extra: Path | None = None) -> list[Zone]:
    """The zones a node watches: the accord's, the shipped borders of the theatre
    (those owned by a party of the accord), and a GeoJSON file of its own."""
    zones = zones_from_accord(accord)
    if borders:
        parties = {p.id for p in accord.parties}
        zones += [z for z in theatre_borders() if z.owner in parties]
    if extra is not None:
        zones += load_zones_geojson(extra)
    seen: set[str] = set()
    for z in zones:
        if z.id in seen:
            raise InputError(f"zone id {z.id!r} is defined twice")
        seen.add(z.id)
    return zones


def _rules(path: Path | None) -> PartyRules | None:
    if path is None:
        return None
    try:
        return PartyRules.from_dict(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read rules: {exc}") from None


def _peer(url: str, ca: Path | None) -> HttpPeer:
    """A peer over HTTP(S); ``ca`` is the bundle that signs the peers' certificates."""
    if ca is None:
        return HttpPeer(url)
    try:
        context = ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"{ca}: cannot read the peers' CA bundle: {exc}") from None
    return HttpPeer(url, verify=context)


def open_node(s: NodeSettings, *, clock: Callable[[], float] = time.time) -> OpenNode:
    """Check the settings' files, then open the node's stores (creating them if new)."""
    accord = load_accord(s.accord) if s.accord is not None else default_accord()
    accord.party(s.party)
    for peer in s.peers:
        accord.party(peer)
    require_owner_only(s.key, "key file")
    key = load_key(s.key)
    own = accord.party(s.party).public_key
    if own is not None and own != public_key_b64(key):
        raise InputError(f"{s.key}: not party {s.party!r}'s key in accord {accord.id!r}")
    if s.tls_cert is not None:
        for p in (s.tls_cert, s.tls_key):
            if p is None or not p.is_file():
                raise InputError(f"{p}: TLS file not found")
        assert s.tls_key is not None
        require_owner_only(s.tls_key, "TLS key")
    zones = node_zones(accord, borders=s.borders, extra=s.zones)
    rules = _rules(s.rules)
    tokens = TokenStore(s.tokens_path)
    # Everything checked: now the stores (which create files).
    store = LineStore(s.line_db, s.party, key)
    try:
        line = Node(s.party, key, accord, store,
                    {p: _peer(u, s.peer_ca) for p, u in s.peers.items()}, clock=clock,
                    skew_s=s.skew_s)
        registry = None
        if s.registry_url:
            from skyaccord.store import open_store
            from skyaccord.strategic.registry import Registry

            registry = Registry(open_store(s.registry_url), accord)
        runtime = NodeRuntime(s.party, accord, line, zones=zones, rules=rules,
                              registry=registry, clock=clock,
                              max_track_age_s=s.max_track_age_s, tick_s=s.tick_s,
                              zones_for=lambda a: node_zones(a, borders=s.borders,
                                                             extra=s.zones))
    except SkyaccordError:
        store.close()
        raise
    runtime.warm_up()
    return OpenNode(s, runtime, tokens, registry)


def init_node(directory: Path, party: str, *, accord_file: Path | None = None,
              key_file: Path | None = None, peers: Sequence[tuple[str, str]] = (),
              port: int = 8701) -> tuple[Path, str, str]:
    """Write ``directory/node.toml``, a key (unless one is given) and an admin token.

    Returns (config path, the party's public key, the admin token)."""
    accord = load_accord(accord_file) if accord_file is not None else default_accord()
    accord.party(party)
    for p, _ in peers:
        accord.party(p)
    if not 0 < port < 65536:
        raise InputError(f"--port: must be a port number, got {port}")
    directory = Path(directory)
    config = directory / "node.toml"
    if config.exists():
        raise InputError(f"{config}: exists; refusing to overwrite a node")
    if key_file is not None:
        require_owner_only(key_file, "key file")
        key = load_key(key_file)
    directory.mkdir(parents=True, exist_ok=True)
    if key_file is None:
        key = generate_key()
        key_file = directory / f"{party}.key"
        from base64 import b64encode

        write_owner_only(key_file, b64encode(bytes(key)).decode("ascii") + "\n")
    tokens = TokenStore(directory / "tokens.json")
    token, _ = tokens.create("admin", Role.ADMIN)
    write_owner_only(directory / "admin.token", token + "\n")
    q = json.dumps  # a JSON string is a TOML basic string
    lines = ["[node]", f"party = {q(party)}", f"key = {q(str(key_file.resolve()))}",
             f"db = {q(party + '.db')}", 'tokens = "tokens.json"', f"port = {port}"]
    if accord_file is not None:
        lines.append(f"accord = {q(str(accord_file.resolve()))}")
    lines += ["tick_s = 1.0", "", "[peers]"] + [f"{p} = {q(u)}" for p, u in peers]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, public_key_b64(key), token
