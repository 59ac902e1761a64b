"""``skyaccord dss serve``: a stand-alone ASTM F3548-21 DSS over SQLite or PostgreSQL.

Several ``serve`` processes over one PostgreSQL database form a pool: what one writes,
the others read. Exit codes: 2 bad input (a key file), 1 a database that cannot be
opened, else uvicorn's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyaccord.cli_options import fail_with
from skyaccord.errors import SkyaccordError

__all__ = ["register"]

dss_app = typer.Typer(help="The ASTM F3548-21 DSS interface (/dss/v1).", no_args_is_help=True)


@dss_app.command("serve")
def serve(
    db: Annotated[str, typer.Option("--db", help="A SQLite file path, or postgresql://... "
                                    "(?skyaccord_schema=NAME picks the schema).")],
    public_key: Annotated[list[Path], typer.Option(
        "--public-key", help="PEM RSA public key of the token authority (repeatable).")],
    audience: Annotated[str, typer.Option(
        "--audience", help="This DSS's name in access tokens' aud claim.")],
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="When given, tokens' iss must be it (the authority's token URL).")
    ] = None,
    rate_per_s: Annotated[float, typer.Option(
        "--rate-per-s", help="Requests a second per client (token sub), 429 beyond.")
    ] = 50.0,
    rate_burst: Annotated[float, typer.Option(
        "--rate-burst", help="Requests a client may send at once.")] = 100.0,
    max_subscriptions: Annotated[int, typer.Option(
        "--max-subscriptions-per-manager", help="Live explicit subscriptions per client.")
    ] = 1000,
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8082,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the DSS's /dss/v1 routes (tokens: RS256 JWTs of the given authority)."""
    import uvicorn

    from skyaccord.dss.api import RateLimiter, create_app
    from skyaccord.dss.auth import Authenticator, load_public_keys
    from skyaccord.dss.db import open_db
    from skyaccord.dss.service import Dss, Limits

    try:
        authenticator = Authenticator(load_public_keys(public_key), audience,
                                      issuer=issuer)
        limiter = RateLimiter(rate_per_s, rate_burst)
        limits = Limits(max_subscriptions)
        database = open_db(db)
    except SkyaccordError as exc:
        fail_with(exc)
    typer.echo(f"DSS on http://{host}:{port}/dss/v1 (audience {audience})", err=True)
    try:
        uvicorn.run(create_app(Dss(database, limits=limits), authenticator, limiter=limiter),
                    host=host, port=port, log_level="warning")
    finally:
        database.close()


def register(app: typer.Typer) -> None:
    """Add ``skyaccord dss ...`` to ``app``."""
    app.add_typer(dss_app, name="dss")
