"""``skyaccord serve`` (the party's node) and ``skyaccord node init|token``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from skyaccord.cli_options import fail, fail_with
from skyaccord.errors import InputError, SkyaccordError, StoreError
from skyaccord.line.logstore import is_url
from skyaccord.node.config import (
    DssSettings,
    NodeSettings,
    check_settings,
    load_settings,
    merge_overrides,
    parse_peer,
    write_owner_only,
)
from skyaccord.store.postgres import split_url

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


def check_dss(s: NodeSettings, where: str = "node settings") -> None:
    """The ``[dss]`` table's cross-field rules and its files (keys read and parsed, the
    database's location), before anything is created; one InputError otherwise."""
    d = s.dss
    if d is None:
        return
    if not (d.serves or d.publishes):
        raise InputError(f"{where}: [dss] needs audience (serve /dss/v1) or publish_to "
                         "(publish the node's intents), or both")
    if d.public_keys == ():
        raise InputError(f"{where}: key 'dss.public_keys': needed to check the access "
                         "tokens of the DSS and of the USS routes")
    from skyaccord.dss.auth import load_private_key, load_public_keys

    try:
        load_public_keys(d.public_keys)
    except InputError as exc:
        raise InputError(f"{where}: key 'dss.public_keys': {exc}") from None
    if d.serves:
        url = s.dss_db
        if is_url(url):
            try:
                split_url(url, "skyaccord")
            except StoreError as exc:
                raise InputError(f"{where}: key 'dss.db': {exc}") from None
        else:
            parent = Path(url).parent
            if not parent.is_dir():
                raise InputError(f"{where}: key 'dss.db': the directory {parent} of the "
                                 "DSS's SQLite file does not exist")
            if Path(url).exists() and not Path(url).is_file():
                raise InputError(f"{where}: key 'dss.db': {url} is not a file")
    if d.publishes:
        for k in ("uss_base_url", "signing_key"):
            if getattr(d, k) is None:
                raise InputError(f"{where}: key 'dss.{k}': needed with publish_to")
        if d.publish_audience is None and d.audience is None:
            raise InputError(f"{where}: key 'dss.publish_audience': needed with publish_to "
                             "(the aud the DSS there expects) when this node serves none")
        assert d.signing_key is not None
        try:
            load_private_key(d.signing_key)
        except InputError as exc:
            raise InputError(f"{where}: key 'dss.signing_key': {exc}") from None
        if d.dss_ca is not None and not d.dss_ca.is_file():
            raise InputError(f"{where}: key 'dss.dss_ca': {d.dss_ca} is not a file")
    elif d.uss_base_url is not None or d.signing_key is not None:
        raise InputError(f"{where}: keys 'dss.uss_base_url' and 'dss.signing_key' go with "
                         "publish_to")


def _with_dss_flags(s: NodeSettings, audience: str | None, public_keys: list[Path] | None,
                    db: str | None) -> NodeSettings:
    if audience is None and not public_keys and db is None:
        return s
    d = s.dss or DssSettings()
    d = replace(d, audience=audience or d.audience,
                public_keys=tuple(public_keys) if public_keys else d.public_keys,
                db=db or d.db)
    return replace(s, dss=d)


def _echo_notice(notice: dict[str, Any]) -> None:
    """An F3548 notice from another USS, on the node's log (one line)."""
    what = "deleted" if notice["deleted"] else f"version {notice['version']}"
    typer.echo(f"F3548 notice from {notice['from']}: operational intent {notice['id']} "
               f"{what}", err=True)


def _notices_router(side: Any) -> Any:
    """``GET /f3548/notices`` (viewer): what other USSs told this node and what it told
    them, newest last (the last 1,000 each). Mounted only when the node publishes."""
    from typing import get_args

    from fastapi import APIRouter

    from skyaccord.node.deps import Viewer

    # the viewer role's dependency itself (this module's annotations are strings, which
    # FastAPI would resolve in the module, where Viewer is not)
    viewer = get_args(Viewer)[1]
    router = APIRouter(tags=["f3548"])

    @router.get("/f3548/notices", summary="F3548 notices received and sent",
                dependencies=[viewer])
    def notices() -> dict[str, Any]:
        return dict(side.notices())

    return router


def dss_parts(s: NodeSettings) -> tuple[list[Any], Any, list[Any]]:
    """What the ``[dss]`` table builds (checked already by :func:`check_dss`): the routers
    to mount (``/dss/v1`` when it serves, ``/uss/v1`` and ``/f3548/notices`` when it
    publishes), the
    :class:`skyaccord.dss.uss.Publishing` of the node's intents (or None), and what to
    close at the end."""
    d = s.dss
    if d is None:
        return [], None, []
    import ssl
    from urllib.parse import urlsplit

    import httpx

    from skyaccord.dss import Authenticator, Dss, dss_router, load_public_keys, open_db
    from skyaccord.dss.api import RateLimiter
    from skyaccord.dss.auth import TokenSigner, load_private_key
    from skyaccord.dss.client import Publisher
    from skyaccord.dss.service import Limits
    from skyaccord.dss.uss import Publishing, UssSide, uss_router

    keys = load_public_keys(d.public_keys)
    limiter = RateLimiter(d.rate_per_s, d.rate_burst)
    routers: list[Any] = []
    closers: list[Any] = []
    if d.serves:
        assert d.audience is not None
        db = open_db(s.dss_db)
        closers.append(db)
        dss = Dss(db, limits=Limits(d.max_subscriptions_per_manager))
        routers.append(dss_router(dss, Authenticator(keys, d.audience, issuer=d.issuer),
                                  limiter=limiter, max_body_bytes=d.max_body_bytes))
    publishing = None
    if d.publishes:
        assert d.publish_to and d.uss_base_url and d.signing_key
        signer = TokenSigner(load_private_key(d.signing_key), d.manager or s.party,
                             issuer=d.uss_base_url)
        verify: Any = True
        if d.dss_ca is not None:
            verify = ssl.create_default_context(cafile=str(d.dss_ca))
        audience = d.publish_audience or d.audience or ""
        http = httpx.Client(base_url=d.publish_to, timeout=10.0, verify=verify)
        closers.append(http)
        peers = httpx.Client(timeout=5.0, verify=verify)  # other USSs (closed by side)
        publisher = Publisher(http, lambda: signer.token(audience), d.manager or s.party,
                              d.uss_base_url, peer_token=signer.token, peers=peers)
        side = UssSide(d.uss_base_url, signer, peers, on_notice=_echo_notice)
        closers.append(side)
        uss_audience = urlsplit(d.uss_base_url).hostname or d.uss_base_url
        routers.append(uss_router(side, Authenticator(keys, uss_audience),
                                  limiter=limiter, max_body_bytes=d.max_body_bytes))
        routers.append(_notices_router(side))
        publishing = Publishing(publisher, side)
    return routers, publishing, closers


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
    dss_audience: Annotated[str | None, typer.Option(
        "--dss-audience", help="Serve the F3548 DSS (/dss/v1): its name in tokens' aud.")
    ] = None,
    dss_public_key: Annotated[list[Path] | None, typer.Option(
        "--dss-public-key", help="PEM RSA key of the DSS's token authority (repeatable).")
    ] = None,
    dss_db: Annotated[str | None, typer.Option(
        "--dss-db", help="The DSS's SQLite file or postgresql:// URL (default: the "
        "registry's database).")] = None,
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
        s = _with_dss_flags(s, dss_audience, dss_public_key, dss_db)
        check_dss(s, str(config) if config is not None else "serve")
        node = open_node(s)
        if len(node.tokens) == 0:
            token, _ = node.tokens.create("admin", Role.ADMIN)
            path = s.db.with_name(s.db.stem + "-admin.token")
            write_owner_only(path, token + "\n", overwrite=True)
            typer.echo(f"no operator tokens yet: an admin token is in {path}", err=True)
        routers, publishing, closers = dss_parts(s)
        app = node.app(routers=routers)
        # the intents routes publish through it (node/routers/intents.py)
        app.state.dss_publishing = publishing
    except SkyaccordError as exc:
        fail_with(exc)
    scheme = "https" if s.tls else "http"
    peers = ", ".join(f"{p} {u}" for p, u in sorted(s.peers.items())) or "none"
    typer.echo(f"skyaccord node {s.party} on {scheme}://{s.host}:{s.port}; accord "
               f"{node.runtime.accord.id} v{node.runtime.accord.version} "
               f"{node.runtime.accord.sha256[:16]}; peers: {peers}", err=True)
    # No per-message deflate on the live stream: compressing each tick's picture once per
    # client costs more CPU than the whole tick (operators sit on the centre's network).
    if s.dss is not None:
        typer.echo(("F3548 DSS on /dss/v1 (audience " + str(s.dss.audience) + "); "
                    if s.dss.serves else "")
                   + (f"publishing intents to {s.dss.publish_to}" if s.dss.publishes
                      else ""), err=True)
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
    finally:
        for part in closers:
            part.close()


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
