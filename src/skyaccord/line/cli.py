"""``skyaccord keys new|show`` and ``skyaccord line send|inbox|outbox|show|verify|
overdue``. Exit codes: 0 ok, 1 a log failed verification, 2 bad input. Times are printed
and read as ISO 8601 UTC (``--now`` also takes UTC seconds)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from skyaccord.cli_options import data_table, fail, fail_with, load_accord_option, out_console
from skyaccord.errors import SkyaccordError
from skyaccord.node.config import load_settings

__all__ = ["register"]

keys_app = typer.Typer(help="Ed25519 keys of a party's node.", no_args_is_help=True)
line_app = typer.Typer(help="The line: signed, acknowledged messages between parties.",
                       no_args_is_help=True)

DbArg = Annotated[str, typer.Argument(
    help="The node's log: its SQLite file, or a postgresql://...?skyaccord_schema=NAME URL.")]
AccordOpt = Annotated[Path | None, typer.Option("--accord", help="Accord TOML file.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Node config TOML file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(db: str) -> Any:
    """The log at ``db``, read-only, for the party it belongs to."""
    from skyaccord.line.log import read_meta
    from skyaccord.line.store import LineStore

    try:
        party = read_meta(db).get("party")
        return LineStore(db, str(party))
    except SkyaccordError as exc:
        fail_with(exc)


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Option("--out", help="Key file to write (mode 0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Make an Ed25519 key; print the public key to put in the accord's [[parties]]."""
    from skyaccord.line.keys import generate_key, public_key_b64, save_key

    key = generate_key()
    try:
        save_key(key, out, overwrite=force)
    except SkyaccordError as exc:
        fail_with(exc)
    typer.echo(public_key_b64(key))


@keys_app.command("show")
def keys_show(
    key_file: Annotated[Path, typer.Argument(help="Key file (mode 0600).")],
) -> None:
    """Print a key file's public key (what the accord's [[parties]] holds)."""
    from skyaccord.line.keys import load_key, public_key_b64

    try:
        key = load_key(key_file)
    except SkyaccordError as exc:
        fail_with(exc)
    typer.echo(public_key_b64(key))


def _when(t: float | None) -> str:
    """A time for people: ISO 8601 UTC to the millisecond, or '-'."""
    if t is None:
        return "-"
    from datetime import UTC, datetime

    text = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


def _parse_now(text: str | None) -> float:
    """``--now``: an RFC 3339 date-time (``2015-11-24T07:30:00Z``) or UTC seconds."""
    if text is None:
        return time.time()
    from skyaccord.errors import InputError
    from skyaccord.timeutil import rfc3339_seconds

    try:
        return float(text) if text.replace(".", "", 1).isdigit() else rfc3339_seconds(text)
    except (InputError, ValueError):
        fail(f"--now {text!r}: give an RFC 3339 UTC time (2015-11-24T07:30:00Z) or UTC "
             "seconds")


@line_app.command("send")
def send(
    to: Annotated[str, typer.Option("--to", help="Recipient party.")],
    config: ConfigOpt = None,
    kind: Annotated[str, typer.Option("--kind", help="Message kind.")] = "text",
    body: Annotated[str | None, typer.Option("--body", help="Body as JSON.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Shorthand: body.text.")] = None,
    reply_to: Annotated[str | None, typer.Option("--reply-to", help="Message answered.")
                        ] = None,
    party: Annotated[str | None, typer.Option("--party")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="The node's log: SQLite file or postgresql:// URL.")] = None,
    key: Annotated[Path | None, typer.Option("--key")] = None,
    accord: AccordOpt = None,
) -> None:
    """Sign and store a message in the node's outbox; the running node delivers it."""
    from skyaccord.line.keys import load_key
    from skyaccord.line.node import Node
    from skyaccord.line.store import LineStore

    if kind in ("proposal", "acceptance", "suspension"):
        fail(f"--kind {kind}: the accord's messages go through the running node, which "
             "keeps the accord's state: skyaccord accord propose|answer|suspend")
    try:
        cfg = load_settings(config) if config else None
        party = party or (cfg.party if cfg else None)
        db = db or (cfg.line_db if cfg else None)
        key = key or (cfg.key if cfg else None)
        if not (party and db and key):
            fail("give --config, or --party, --db and --key")
        assert party and db and key
        if cfg is not None and to not in cfg.peers:
            # nothing would ever deliver it: no node of ours knows where that party is
            fail(f"no peer {to!r} in {config} ([peers] has "
                 f"{', '.join(sorted(cfg.peers)) or 'none'}); add its URL first")
        the_accord = load_accord_option(accord or (cfg.accord if cfg else None))
        payload = json.loads(body) if body is not None else {}
        if not isinstance(payload, dict):
            fail("--body must be a JSON object")
        if text is not None:
            payload["text"] = text
        signing_key = load_key(key)
        with LineStore(db, party, signing_key) as store:
            msg = Node(party, signing_key, the_accord, store).send(
                to, kind, payload, in_reply_to=reply_to)
    except json.JSONDecodeError as exc:
        fail(f"--body is not JSON: {exc}")
    except SkyaccordError as exc:
        fail_with(exc)
    due = f" due {_when(msg.due_at)}" if msg.due_at else ""
    typer.echo(f"queued {msg.id} {msg.kind} {msg.sender}->{msg.recipient} seq {msg.seq}{due}")
    if cfg is None:
        typer.echo(f"note: delivered only by a running node of {party} with a peer "
                   f"{to!r}", err=True)


def _summary(body: Any) -> str:
    for k in ("text", "reason", "subject"):
        if k in body:
            return str(body[k])[:60]
    return json.dumps(body)[:60]


@line_app.command("inbox")
def inbox(db: DbArg, as_json: JsonOpt = False) -> None:
    """Messages this node received, in order (acknowledgements left out)."""
    with _open(db) as store:
        rows = [(p, t, m) for p, _, t, m in store.messages(direction="received")
                if m.kind != "ack"]
    if as_json:
        typer.echo(json.dumps([m.to_dict() for _, _, m in rows], indent=1))
        return
    table = data_table("pos", "received (UTC)", "from", "seq", "kind", "id", "summary",
                       title=f"inbox of {store.party}")
    for p, t, m in rows:
        table.add_row(str(p), _when(t), m.sender, str(m.seq), m.kind, m.id,
                      _summary(m.body))
    out_console().print(table)


@line_app.command("outbox")
def outbox(db: DbArg, as_json: JsonOpt = False,
           pending: Annotated[bool, typer.Option("--pending", help="Only undelivered.")
                              ] = False) -> None:
    """Messages this node sent, with their delivery: delivered (when), or pending with
    the attempts made and the last error."""
    with _open(db) as store:
        items = [o for o in store.outbox() if not (pending and o.delivered_at is not None)]
    if as_json:
        typer.echo(json.dumps([{
            "msg_id": o.msg_id, "to": o.peer, "seq": o.seq, "kind": o.message.kind,
            "created_at": o.message.created_at, "delivered_at": o.delivered_at,
            "attempts": o.attempts, "last_error": o.last_error} for o in items], indent=1))
        return
    table = data_table("to", "seq", "kind", "id", "created (UTC)", "state", "tries",
                       "last error", title=f"outbox of {store.party}")
    for o in items:
        state = f"delivered {_when(o.delivered_at)}" if o.delivered_at else "pending"
        table.add_row(o.peer, str(o.seq), o.message.kind, o.msg_id,
                      _when(o.message.created_at), state, str(o.attempts),
                      (o.last_error or "")[:80])
    out_console().print(table)


@line_app.command("show")
def show(db: DbArg, msg_id: Annotated[str, typer.Argument(help="Message id.")]) -> None:
    """One logged message (JSON) with its acknowledgement and responses."""
    with _open(db) as store:
        found = store.find(msg_id)
        if found is None:
            fail(f"{store.where}: no message {msg_id}")
        assert found is not None
        replies = store.replies(msg_id)
    typer.echo(json.dumps({"direction": found[0], "message": found[1].to_dict(),
                           "replies": [r.to_dict() for r in replies]}, indent=2))


@line_app.command("verify")
def verify_cmd(
    db: DbArg, accord: AccordOpt = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="The other party's log (file or URL): cross-check shared "
        "messages.")] = None,
) -> None:
    """Recompute the hash chain and check every signature, with --accord's keys or else
    the accord recorded in the log (said so); exit 1 on any problem."""
    from skyaccord.line.log import cross_check, verify_log

    try:
        given = load_accord_option(accord) if accord else None
        report = verify_log(db, given)
        problems = list(report.problems)
        if against is not None:
            problems += [f"cross-check: {p}" for p in cross_check(db, against, given)]
    except SkyaccordError as exc:
        fail_with(exc)
    for p in problems:
        typer.echo(f"FAIL {p}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"ok {report.describe()}")


@line_app.command("overdue")
def overdue(
    db: DbArg, accord: AccordOpt = None,
    now: Annotated[str | None, typer.Option(
        "--now", help="RFC 3339 UTC time or UTC seconds (default: now).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include debts not yet due.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """What each party owes this node or is owed by it, with escalation levels."""
    from skyaccord.line.deadlines import store_debts

    the_accord = load_accord_option(accord)
    t = _parse_now(now)
    with _open(db) as store:
        rows = store_debts(store, the_accord.response_deadline_s, t, include_pending=all_)
    if as_json:
        typer.echo(json.dumps([d.__dict__ for d in rows], indent=1))
        return
    table = data_table("debtor", "owes", "to", "for", "subject", "late (s)", "level",
                       title=f"owed on the line of {store.party} at {_when(t)}")
    for d in rows:
        table.add_row(d.debtor, d.what, d.creditor, d.msg_id, d.subject, f"{d.late_s:.0f}",
                      d.level)
    out_console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``keys`` and ``line`` to the skyaccord app (``serve`` is the node's)."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(line_app, name="line")
