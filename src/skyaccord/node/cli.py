"""``skyaccord serve`` (the party's node) and ``skyaccord node init|token``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyaccord.cli_options import fail, fail_with
from skyaccord.errors import InputError, SkyaccordError
from skyaccord.line.logstore import is_url
from skyaccord.node.config import (
    NodeSettings,
    check_settings,
    load_settings,
    merge_overrides,
    parse_peer,
    write_owner_only,
)

__all__ = ["register"]

node_app = typer.Typer(help="Set up a party's node.", no_args_is_help=True)


def _settings(config: Path | None, party: str | None, db: str | None, key: Path | None,
              port: int | None, peers: list[str] | None, **flags: object) -> NodeSettings:
    # --db is the line's SQLite file or its postgresql:// URL; with a URL, the files that
    # default to beside the log (tokens, the admin token) go beside the key file
    db_url = db if db is not None and is_url(db) else None
    db_path = None if db is None else Path(db)
    if db_url:
        home = key.parent if key is not None else (config.parent if config else Path())
        db_path = home / f"{party or 'node'}.db"  # a name to put files beside, never created
    if config is not None:
        s = load_settings(config)
        s = merge_overrides(s, party=party, db=None if db_url else db_path, key=key,
                            port=port, **flags)
        if db_url:
            s = merge_overrides(s, db_url=db_url)
    else:
        if not (party and db_path and key and port):
            raise InputError("give --config, or --party, --db, --key and --port")
        s = check_settings(NodeSettings(party=party, key=key, db=db_path, port=port,
                                        db_url=db_url))
        s = merge_overrides(s, **flags)
    if peers:
        merged = dict(s.peers)
        merged.update(parse_peer(p) for p in peers)
        s = merge_overrides(s, peers=merged)
    return s


def serve(
    config: Annotated[Path | None, typer.Option("--config", help="Node config (node.toml).")
                      ] = None,
    party: Annotated[str | None, typer.Option("--party", help="This node's party.")] = None,
    accord: Annotated[Path | None, typer.Option("--accord", help="Accord TOML.")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="The line's log: a SQLite file or a postgresql:// URL.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Key file (mode 0600).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind.")] = None,
    peer: Annotated[list[str] | None, typer.Option(
        "--peer", help="PARTY=URL of a peer node (repeatable).")] = None,
    registry: Annotated[str | None, typer.Option(
        "--registry", help="Intents registry: SQLite file or postgresql:// URL.")] = None,
    tokens: Annotated[Path | None, typer.Option("--tokens", help="Tokens file.")] = None,
    feed: Annotated[list[str] | None, typer.Option(
        "--feed", help="tcp://HOST:PORT[#sbs|raw|beast] or a recorded file (repeatable).")
    ] = None,
    tick_s: Annotated[float | None, typer.Option("--tick-s", help="Detection period, s.")
                      ] = None,
    skew_s: Annotated[float | None, typer.Option("--skew-s", help="Clock-skew window.")
                      ] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate.")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key.")
                       ] = None,
) -> None:
    """Run this party's node: picture, alerts each tick, intents, the line, the API."""
    import uvicorn

    from skyaccord.node.auth import Role
    from skyaccord.node.service import open_node

    try:
        s = _settings(config, party, db, key, port, peer, accord=accord, host=host,
                      registry=registry, tokens=tokens,
                      feeds=tuple(feed) if feed else None, tick_s=tick_s, skew_s=skew_s,
                      tls_cert=tls_cert, tls_key=tls_key)
        node = open_node(s)
        if len(node.tokens) == 0:
            token, _ = node.tokens.create("admin", Role.ADMIN)
            path = s.db.with_name(s.db.stem + "-admin.token")
            write_owner_only(path, token + "\n", overwrite=True)
            typer.echo(f"no operator tokens yet: an admin token is in {path}", err=True)
        app = node.app()
    except SkyaccordError as exc:
        fail_with(exc)
    scheme = "https" if s.tls else "http"
    peers = ", ".join(f"{p} {u}" for p, u in sorted(s.peers.items())) or "none"
    typer.echo(f"skyaccord node {s.party} on {scheme}://{s.host}:{s.port}; accord "
               f"{node.runtime.accord.id} v{node.runtime.accord.version} "
               f"{node.runtime.accord.sha256[:16]}; peers: {peers}", err=True)
    # No per-message deflate on the live stream: compressing each tick's picture once per
    # client costs more CPU than the whole tick (operators sit on the centre's network).
    try:
        uvicorn.run(app, host=s.host, port=s.port, log_level="warning",
                    ws_per_message_deflate=False,
                    ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
                    ssl_keyfile=str(s.tls_key) if s.tls_key else None)
    except SystemExit as exc:
        # uvicorn exits 3 when it cannot start (a busy port, most often); 3 is our
        # "refused" code, so a failed start is the run's failure: exit 1
        if exc.code in (0, None):
            raise
        fail(f"the node could not start on {s.host}:{s.port} (uvicorn's message above; "
             "a port in use, or a certificate it cannot read)", 1)


@node_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Directory of the new node.")],
    party: Annotated[str, typer.Option("--party", help="This node's party.")],
    accord: Annotated[Path | None, typer.Option("--accord", help="Accord TOML.")] = None,
    key: Annotated[Path | None, typer.Option(
        "--key", help="Existing key file (default: make one).")] = None,
    peer: Annotated[list[str] | None, typer.Option(
        "--peer", help="PARTY=URL of a peer node (repeatable).")] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8701,
) -> None:
    """Write DIR/node.toml, a key (unless given) and an admin token in DIR/admin.token;
    print the public key to put in the accord. Then: skyaccord serve --config DIR/node.toml"""
    from skyaccord.node.service import init_node

    try:
        peers = [parse_peer(p) for p in peer or []]
        path, public, _ = init_node(directory, party, accord_file=accord, key_file=key,
                                    peers=peers, port=port)
    except SkyaccordError as exc:
        fail_with(exc)
    typer.echo(f"wrote {path} and {directory / 'admin.token'}")
    typer.echo(f"public key of {party} (for the accord's [[parties]] public_key):")
    typer.echo(public)
    typer.echo(f"start it: skyaccord serve --config {path}")


@node_app.command("token")
def token(
    config: Annotated[Path, typer.Option("--config", help="Node config (node.toml).")],
    name: Annotated[str, typer.Option("--name", help="Who holds the token.")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")
                    ] = "viewer",
) -> None:
    """Make an operator token (printed once; the node keeps only its hash)."""
    from skyaccord.node.auth import Role, TokenStore

    try:
        s = load_settings(config)
        new, _ = TokenStore(s.tokens_path).create(name, Role.parse(role))
    except SkyaccordError as exc:
        fail_with(exc)
    typer.echo(new)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``node`` to the skyaccord app."""
    app.command("serve")(serve)
    app.add_typer(node_app, name="node")
