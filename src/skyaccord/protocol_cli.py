"""``skyaccord accord check|show|default``: validate and display an accord file;
``skyaccord accord status|propose|proposals|answer|suspend`` and ``skyaccord distress``:
the accord's life on the line, through a running node's authenticated HTTP API
(``--node URL``, ``--token``/``--token-file``, or ``SKYACCORD_NODE``/``SKYACCORD_TOKEN``):
the node signs, keeps the accord's state and tells the other parties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from skyaccord.cli_options import fail, fail_with, out_console
from skyaccord.errors import SkyaccordError
from skyaccord.protocol import Accord, load_accord

__all__ = ["register"]

accord_app = typer.Typer(help="Check and show accord files.", no_args_is_help=True)
FileArg = Annotated[Path, typer.Argument(help="Accord TOML file.")]


def _load(path: Path) -> Accord:
    try:
        return load_accord(path)
    except SkyaccordError as exc:
        fail_with(exc)


@accord_app.command("check")
def check(file: FileArg) -> None:
    """Validate FILE; print its id, version and SHA-256 (exit 2 when invalid)."""
    accord = _load(file)
    typer.echo(f"ok {accord.id} v{accord.version} sha256:{accord.sha256}")


@accord_app.command("default")
def default(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write it to this new file instead of printing it.")] = None,
) -> None:
    """The shipped accord (the 2015 Syria model) as TOML: the one to start from."""
    from skyaccord.protocol import default_accord_text

    text = default_accord_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as fh:  # never overwrite an accord
            fh.write(text)
    except FileExistsError:
        fail(f"{out}: exists; give a new file name")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}", 1)
    typer.echo(f"wrote {out}", err=True)


@accord_app.command("show")
def show(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical JSON.")] = False,
) -> None:
    """Show FILE's parties, minima, alert levels and communications."""
    accord = _load(file)
    if as_json:
        typer.echo(json.dumps(accord.to_dict(), indent=2, sort_keys=True))
        return
    console = out_console()
    console.print(Text(accord.title, style="bold"),
                  Text(f"({accord.id} v{accord.version}, "
                       f"effective {accord.effective or 'not set'})"), sep="  ")
    console.print(f"sha256 {accord.sha256}")
    parties = Table("party", "name", "public key", title="Parties")
    for p in accord.parties:
        parties.add_row(p.id, p.name, p.public_key or "-")
    console.print(parties)
    minima = Table("classes", "horizontal (NM)", "vertical (ft)", title="Separation minima")
    for rule in accord.separation:
        minima.add_row("/".join(rule.classes), f"{rule.minima.horizontal_nm:g}",
                       f"{rule.minima.vertical_ft:g}")
    console.print(minima)
    levels = Table("level", "within (s)", "minima", title=f"Alert levels "
                   f"(look-ahead {accord.lookahead_s:g} s)")
    for level in accord.levels:
        m = level.minima
        levels.add_row(level.name, f"{level.time_s:g}",
                       f"{m.horizontal_nm:g} NM / {m.vertical_ft:g} ft" if m else "class pair")
    console.print(levels)
    console.print(
        "guard frequencies: "
        + ", ".join(f"{f:g} MHz" for f in accord.guard_frequencies_mhz)
        + f"; notice lead time {accord.notice_lead_time_s:g} s; "
        f"response deadline {accord.response_deadline_s:g} s"
    )


NodeOpt = Annotated[str | None, typer.Option(
    "--node", envvar="SKYACCORD_NODE", help="The node's URL (http://127.0.0.1:8701).")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", envvar="SKYACCORD_TOKEN", help="An operator token of that node.")]
TokenFileOpt = Annotated[Path | None, typer.Option(
    "--token-file", help="A file holding the token (node init writes admin.token).")]
CaOpt = Annotated[Path | None, typer.Option("--ca", help="CA bundle of the node's HTTPS.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _call(method: str, path: str, node: str | None, token: str | None,
          token_file: Path | None, ca: Path | None, body: Any = None) -> Any:
    """One request to the node's API; a refusal exits with its problem's detail."""
    import httpx

    if node is None:
        fail("give --node URL (or SKYACCORD_NODE)")
    assert node is not None
    if token is None and token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"{token_file}: cannot read the token: {exc.strerror or exc}")
    if not token:
        fail("give --token, --token-file or SKYACCORD_TOKEN (an operator token)")
    try:
        with httpx.Client(timeout=30.0, verify=str(ca) if ca else True) as client:
            r = client.request(method, node.rstrip("/") + path, json=body,
                               headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        fail(f"{node}: cannot reach the node: {exc}", 1)
    try:
        data = r.json()
    except ValueError:
        data = {"detail": r.text[:300]}
    if r.status_code >= 400:
        detail = data.get("detail") if isinstance(data, dict) else data
        fail(f"{node}{path}: {r.status_code} {detail}", 3 if r.status_code == 409 else 2)
    return data


def _when(t: float | None) -> str:
    from skyaccord.timeutil import format_rfc3339

    return "-" if t is None else format_rfc3339(float(t))


@accord_app.command("status")
def status(node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
           ca: CaOpt = None, as_json: JsonOut = False) -> None:
    """The accord in force on the node: version, hash, suspensions, history."""
    a = _call("GET", "/accord", node, token, token_file, ca)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in a.items() if k != "accord"}, indent=2))
        return
    for line in status_lines(a):
        typer.echo(line)


def status_lines(a: dict[str, Any]) -> list[str]:
    """``accord status``'s text from the node's ``GET /accord`` document: the version in
    force, suspensions, what waits on an undecided version (and on whom), history."""
    out = [f"in force: {a['id']} v{a['version']} sha256:{a['sha256']}"]
    for s in a.get("suspended", []):
        out.append(f"SUSPENDED by {s['party']} at {_when(s['at'])}: {s['reason']}")
    for u in a.get("undecided", []):
        out.append(f"UNDECIDED: v{u['version']} {u['sha256'][:12]} by {u['proposer']}, "
                   f"effective {_when(u['effective_at'])}: no word from "
                   f"{', '.join(u['awaiting'])} since then (ordinary messages wait; "
                   "conflicts and distress go in the priority lane)")
    counts = [f"{n} {what}" for what, n in (("held", a.get("held", 0)),
                                             ("sent in the priority lane while undecided",
                                              a.get("expedited", 0)),
                                             ("withheld while suspended",
                                              a.get("withheld", 0))) if n]
    if counts:
        out.append("automatic messages: " + ", ".join(counts))
    if a.get("held_reason"):
        out.append(f"why: {a['held_reason']}")
    for h in a.get("history", []):
        out.append(f"  v{h['version']} {h['sha256'][:12]} from {_when(h['effective_at'])}")
    if a.get("next_switch_at"):
        out.append(f"next version takes effect at {_when(a['next_switch_at'])}")
    return out


@accord_app.command("propose")
def propose(
    file: FileArg,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="A party to propose it to (repeat; default: every other party it "
        "names, all of which must accept).")] = None,
    effective: Annotated[str | None, typer.Option(
        "--effective", help="RFC 3339 UTC time it takes effect (default: the file's "
        "[accord] effective).")] = None,
    text: Annotated[str, typer.Option("--text", help="Why (signed with it).")] = "proposed",
    node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
    ca: CaOpt = None,
) -> None:
    """Propose FILE as the accord's next version to the other parties."""
    _load(file)  # the same checks here first, with the file's name in errors
    p = _call("POST", "/accord/proposals", node, token, token_file, ca, {
        "accord_toml": file.read_text(encoding="utf-8"), "to": to, "effective": effective,
        "text": text})
    typer.echo(f"proposed {p['sha256']} v{p['version']} to {', '.join(p['awaited'])}; "
               f"takes effect at {_when(p['effective_at'])} once all accept")
    typer.echo(p["diff_text"])


@accord_app.command("proposals")
def proposals(node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
              ca: CaOpt = None, as_json: JsonOut = False) -> None:
    """Proposals the node knows, with their status, answers and difference."""
    ps = _call("GET", "/accord/proposals", node, token, token_file, ca)
    if as_json:
        typer.echo(json.dumps(ps, indent=2))
        return
    for p in ps:
        answers = ", ".join(f"{k} {a['decision']} ({a['text']})"
                            for k, a in p["answers"].items()) or "none yet"
        typer.echo(f"{p['sha256']} v{p['version']} by {p['proposer']}: {p['status']}; "
                   f"effective {_when(p['effective_at'])}; answers: {answers}; awaited: "
                   f"{', '.join(p['awaited']) or '-'}")
        typer.echo(p["diff_text"])


@accord_app.command("answer")
def answer_cmd(
    sha256: Annotated[str, typer.Argument(help="The proposal's sha256.")],
    decision: Annotated[str, typer.Option(
        "--decision", help="accept or reject.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (signed with it).")],
    node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
    ca: CaOpt = None,
) -> None:
    """Accept or reject a proposal, with a reason, to every party of it."""
    if decision not in ("accept", "reject"):
        fail(f"--decision: accept or reject, not {decision!r}")
    p = _call("POST", f"/accord/proposals/{sha256}/answer", node, token, token_file, ca,
              {"decision": decision, "text": reason})
    typer.echo(f"{decision}ed {p['sha256']}: {p['status']}")


@accord_app.command("suspend")
def suspend(
    reason: Annotated[str, typer.Option("--reason", help="Why (signed with it).")],
    node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
    ca: CaOpt = None,
) -> None:
    """Suspend the accord in force: its automatic messages stop on every node until a
    new version takes effect."""
    r = _call("POST", "/accord/suspend", node, token, token_file, ca, {"reason": reason})
    typer.echo(f"suspended {r['suspended']} (told {len(r['sent'])} parties)")


def distress(
    lat: Annotated[float, typer.Option("--lat", help="Latitude, degrees.")],
    lon: Annotated[float, typer.Option("--lon", help="Longitude, degrees.")],
    frequency_mhz: Annotated[float, typer.Option("--frequency", help="MHz (121.5, 243).")],
    callsign: Annotated[str | None, typer.Option("--callsign")] = None,
    nature: Annotated[str | None, typer.Option("--nature", help="e.g. ejection.")] = None,
    alt_ft: Annotated[float | None, typer.Option("--alt-ft")] = None,
    node: NodeOpt = None, token: TokenOpt = None, token_file: TokenFileOpt = None,
    ca: CaOpt = None,
) -> None:
    """Call distress to every party at once, ahead of anything queued."""
    body = {k: v for k, v in {"lat": lat, "lon": lon, "frequency_mhz": frequency_mhz,
                              "callsign": callsign, "nature": nature,
                              "alt_ft": alt_ft}.items() if v is not None}
    r = _call("POST", "/distress", node, token, token_file, ca, body)
    for m in r["sent"]:
        typer.echo(f"distress {m['id']} to {m['to']}, acknowledgement due "
                   f"{_when(m['due_at'])}")


def register(app: typer.Typer) -> None:
    app.add_typer(accord_app, name="accord")
    app.command("distress")(distress)
