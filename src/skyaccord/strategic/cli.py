"""``skyaccord intents ...``: the operations registry from the command line.

Exit codes: 0 success (``submit``: accepted; ``check``: would be accepted), 3 refused for
conflict (the conflicting intent ids and the proposed resolutions are printed), 2 bad
input (the message names file and field), 1 store failures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyaccord.cli_options import (
    AccordOption,
    data_table,
    fail,
    fail_with,
    load_accord_option,
    out_console,
)
from skyaccord.errors import IntentConflict, IntentError, SkyaccordError

if TYPE_CHECKING:  # imported where used: `skyaccord --help` loads no registry
    from skyaccord.strategic.conflicts import Conflict
    from skyaccord.strategic.registry import Registry
    from skyaccord.strategic.volumes import Intent

__all__ = ["register"]


intents_app = typer.Typer(help="Planned operations (4D intents): submit, check, list, end, "
                          "notices.",
                          no_args_is_help=True)
out = out_console()

DbOption = Annotated[str, typer.Option(
    "--db", help="Registry store: a SQLite file path, or postgresql://user@host/db.")]
#: The party whose operator reads: its own intents whole, others' as volumes only
#: (skyaccord.strategic.views). Without it, the registry operator's whole view.
AsPartyOption = Annotated[str | None, typer.Option(
    "--as", help="Show the registry as this party sees it: others' intents as volumes "
    "only.")]
# Limits of the proposed resolutions (submit and check)
MaxDelayOption = Annotated[float, typer.Option(help="Longest delay to propose.")]
AltFloorOption = Annotated[float, typer.Option(help="Lowest altitude to propose.")]
AltCeilingOption = Annotated[float, typer.Option(help="Highest altitude.")]


@contextmanager
def _registry(db: str, accord_file: Path | None, *, create: bool = False
              ) -> Iterator[Registry]:
    """The registry at ``db``, closed when the command ends; only the writing commands
    (``create``) make a new one."""
    from skyaccord.store import open_store
    from skyaccord.strategic.registry import Registry

    accord = load_accord_option(accord_file)
    try:
        store = open_store(db, create=create)
    except SkyaccordError as exc:
        fail_with(exc)
    try:
        yield Registry(store, accord)
    finally:
        store.close()


def _load(path: Path) -> Intent:
    from skyaccord.strategic.codec import load_intent_file

    try:
        return load_intent_file(path)
    except SkyaccordError as exc:
        fail_with(exc)


def _print_conflicts(conflicts: Iterable[Conflict]) -> None:
    t = data_table("intent", "party", "ver", "prio", "blocking", "volume pairs")
    for c in conflicts:
        t.add_row(c.intent_id, c.party, str(c.version), str(c.priority),
                  "yes" if c.blocking else "no",
                  " ".join(f"{a}/{b}" for a, b in c.pairs))
    out.print(t)


def _print_resolutions(reg: Registry, intent: Intent, max_delay_s: float, floor_ft: float,
                       ceiling_ft: float) -> None:
    from skyaccord.strategic.resolve import ResolutionLimits, resolve

    res = resolve(reg, intent, ResolutionLimits(max_delay_s, floor_ft, ceiling_ft))
    out.print("resolutions:")
    out.print(f"  delay: {res.delay_s:.0f} s" if res.delay_s is not None else
              f"  delay: none within {max_delay_s:.0f} s")
    out.print(f"  altitude change: {res.altitude_offset_ft:+.0f} ft"
              if res.altitude_offset_ft is not None else
              f"  altitude change: none within [{floor_ft:.0f}, {ceiling_ft:.0f}] ft")


def _parse_key(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    key: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, ver = part.rpartition(":")
        if not sep or not name or not ver.isdigit():
            fail(f"--key: {part!r} must be INTENT_ID:VERSION")
        key[name] = int(ver)
    return key


@intents_app.command("submit")
def submit_command(
    file: Annotated[Path, typer.Argument(help="GeoJSON intent file or F3548 JSON.")],
    db: DbOption,
    accord_file: AccordOption = None,
    key: Annotated[str | None, typer.Option(
        "--key", help="Versions seen, ID:VER,ID:VER (default: those in the area when the "
        "write runs).")
    ] = None,
    request_id: Annotated[str | None, typer.Option(
        "--request-id", help="Idempotency key: a retry with it has one effect.")] = None,
    max_delay_s: MaxDelayOption = 21600.0,
    alt_floor_ft: AltFloorOption = 0.0,
    alt_ceiling_ft: AltCeilingOption = 60000.0,
) -> None:
    """Check and store an intent; exit 3 with conflicts and resolutions when refused."""
    from skyaccord.strategic.registry import Outcome

    intent = _load(file)
    with _registry(db, accord_file, create=True) as reg:
        try:
            # without --key, the planner's usual flow: the versions in the area as they are
            # when the write runs (read and written in one transaction)
            seen = _parse_key(key)
            res = reg.submit(intent, "current" if seen is None else seen,
                             request_id=request_id)
            if res.outcome is Outcome.ACCEPTED:
                out.print(f"accepted {res.intent.id} version {res.intent.version}"
                          + (" (replayed)" if res.replayed else ""))
                if res.conflicts:
                    out.print("conflicts with lower-priority intents:")
                    _print_conflicts(res.conflicts)
                return
            out.print(f"refused ({res.outcome}): {intent.id}")
            if res.conflicts:
                out.print("conflicting intents: " + ", ".join(c.intent_id for c in res.conflicts))
                _print_conflicts(res.conflicts)
            if res.missed:
                out.print("versions to name in --key: " + ", ".join(
                    f"{k}:{v}" for k, v in sorted(res.missed.items())))
            if res.outcome is Outcome.CONFLICT:
                _print_resolutions(reg, intent, max_delay_s, alt_floor_ft, alt_ceiling_ft)
        except SkyaccordError as exc:
            fail_with(exc)
        raise typer.Exit(IntentConflict.exit_code)


@intents_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="GeoJSON intent file or F3548 JSON.")],
    db: DbOption,
    accord_file: AccordOption = None,
    max_delay_s: MaxDelayOption = 21600.0,
    alt_floor_ft: AltFloorOption = 0.0,
    alt_ceiling_ft: AltCeilingOption = 60000.0,
) -> None:
    """Conflicts an intent would have (nothing stored); exit 3 when it would be refused."""
    intent = _load(file)
    with _registry(db, accord_file) as reg:
        try:
            res = reg.check(intent)
            if not res.conflicts:
                out.print(f"no conflicts: {intent.id}")
                return
            _print_conflicts(res.conflicts)
            if not res.blocking:
                return
            _print_resolutions(reg, intent, max_delay_s, alt_floor_ft, alt_ceiling_ft)
        except SkyaccordError as exc:
            fail_with(exc)
        raise typer.Exit(IntentConflict.exit_code)


@intents_app.command("list")
def list_command(
    db: DbOption,
    party: Annotated[str | None, typer.Option(help="Only this party's intents.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only active intents.")] = False,
    viewer: AsPartyOption = None,
    accord_file: AccordOption = None,
) -> None:
    """Stored intents (with --as, other parties' as volumes only)."""
    from skyaccord.strategic.views import opaque_ref, visible_to
    from skyaccord.timeutil import format_interval

    with _registry(db, accord_file) as reg:
        try:
            rows = reg.intents(party, active)
        except SkyaccordError as exc:
            fail_with(exc)
        def window(it: Intent) -> str:
            return format_interval(min(v.time_start for v in it.volumes),
                                   max(v.time_end for v in it.volumes))

        if viewer is None:  # the registry operator's view: every intent whole
            t = data_table("id", "party", "class", "prio", "state", "ver", "vols",
                           "window (UTC)")
            for it in rows:
                t.add_row(it.id, it.party, it.aircraft_class, str(it.priority),
                          str(it.state), str(it.version), str(len(it.volumes)), window(it))
            out.print(t)
            return
        own = data_table("id", "class", "prio", "state", "ver", "vols", "window (UTC)",
                         title=f"intents of {viewer}")
        others = data_table("reference", "party", "vols", "window (UTC)",
                            title="other parties' volumes")
        salt = reg.accord.sha256
        for it in rows:
            if visible_to(it, viewer):
                own.add_row(it.id, it.aircraft_class, str(it.priority), str(it.state),
                            str(it.version), str(len(it.volumes)), window(it))
            else:  # another party's: its volumes under an opaque reference
                others.add_row(opaque_ref(it, salt), it.party, str(len(it.volumes)),
                               window(it))
        out.print(own)
        out.print(others)


@intents_app.command("notices")
def notices_command(
    db: DbOption,
    party: Annotated[str | None, typer.Option(help="Only notices to this party.")] = None,
    intent: Annotated[str | None, typer.Option(help="Only notices about this intent.")
                      ] = None,
    after: Annotated[int, typer.Option(help="Only notices after this sequence number.")
                     ] = 0,
    accord_file: AccordOption = None,
) -> None:
    """Lower-priority intents that a higher-priority intent was accepted over: replan."""
    with _registry(db, accord_file) as reg:
        try:
            rows = reg.displacements(party, intent, after)
        except SkyaccordError as exc:
            fail_with(exc)
        t = data_table("seq", "intent", "party", "ver", "by intent", "by party", "by ver",
                       "by prio", "volume pairs")
        for n in rows:
            t.add_row(str(n.seq), n.intent_id, n.party, str(n.version), n.by_intent_id,
                      n.by_party, str(n.by_version), str(n.by_priority),
                      " ".join(f"{a}:{b}" for a, b in n.pairs))
        out.print(t)


@intents_app.command("show")
def show_command(
    intent_id: Annotated[str, typer.Argument(help="Intent id.")],
    db: DbOption,
    fmt: Annotated[str, typer.Option("--format", help="geojson or f3548.")] = "geojson",
    viewer: AsPartyOption = None,
    accord_file: AccordOption = None,
) -> None:
    """An intent as GeoJSON (the input format) or ASTM F3548 OperationalIntent JSON
    (with --as, only the party's own)."""
    from skyaccord.strategic.codec import intent_to_f3548, intent_to_geojson
    from skyaccord.strategic.views import visible_to

    if fmt not in ("geojson", "f3548"):
        fail(f"--format must be geojson or f3548, not {fmt!r}")
    with _registry(db, accord_file) as reg:
        found: Intent | None = None
        try:
            found = reg.get(intent_id)
        except IntentError as exc:
            if viewer is None:
                fail_with(exc)
        if found is None or (viewer is not None and not visible_to(found, viewer)):
            # another party's id gets the answer of an unknown one: nothing confirmed
            fail(f"no intent {intent_id!r} of party {viewer!r}")
        it = found
        doc = intent_to_geojson(it) if fmt == "geojson" else intent_to_f3548(it)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")


@intents_app.command("end")
def end_command(
    intent_id: Annotated[str, typer.Argument(help="Intent id.")],
    db: DbOption,
    party: Annotated[str, typer.Option(help="The party that owns the intent.")],
    version: Annotated[int | None, typer.Option(
        help="Current version (default: read it just before).")] = None,
    request_id: Annotated[str | None, typer.Option("--request-id")] = None,
    accord_file: AccordOption = None,
) -> None:
    """End an intent: it no longer takes part in conflict checks."""
    with _registry(db, accord_file) as reg:
        try:
            v = reg.get(intent_id).version if version is None else version
            it = reg.end(intent_id, party, v, request_id=request_id)
        except SkyaccordError as exc:
            fail_with(exc)
        out.print(f"ended {it.id} version {it.version}")


@intents_app.command("overlap")
def overlap_command(
    file_a: Annotated[Path, typer.Argument(help="Party A's intent file.")],
    file_b: Annotated[Path, typer.Argument(help="Party B's intent file.")],
    accord_file: AccordOption = None,
    resolution: Annotated[int, typer.Option(help="H3 resolution of the cells.")] = 7,
    layer_ft: Annotated[float, typer.Option(help="Altitude layer height.")] = 1000.0,
    slot_s: Annotated[float, typer.Option(help="Time slot length.")] = 900.0,
    cells: Annotated[bool, typer.Option(
        "--cells", help="Also print every shared cell key (h3|layer|slot).")] = False,
) -> None:
    """Private overlap demo: the airspace two plans share, by private set intersection."""
    from skyaccord.strategic.private import (
        CellGrid,
        intent_cells,
        private_overlap,
        summarize_cells,
    )
    from skyaccord.timeutil import format_interval

    accord = load_accord_option(accord_file)
    a, b = _load(file_a), _load(file_b)
    try:
        m = accord.minima(a.aircraft_class, b.aircraft_class)
        grid = CellGrid(resolution, layer_ft, slot_s)
        ca = intent_cells([a], grid, m.horizontal_m, m.vertical_ft)
        cb = intent_cells([b], grid, m.horizontal_m, m.vertical_ft)
        shared_a, shared_b = private_overlap(ca, cb)
    except SkyaccordError as exc:
        fail_with(exc)
    out.print(f"{a.party}: {len(ca)} cells; {b.party}: {len(cb)} cells; "
              f"shared: {len(shared_a)} (both sides agree: {shared_a == shared_b})")
    summary = summarize_cells(shared_a, grid)
    if summary is None:
        out.print("the plans share no airspace")
    else:
        out.print(
            f"shared airspace: {summary.hexes} H3 cells (resolution {resolution}), "
            f"{summary.area_km2:.0f} km², centres within {summary.lat_range[0]:.3f}–"
            f"{summary.lat_range[1]:.3f}° N, {summary.lon_range[0]:.3f}–"
            f"{summary.lon_range[1]:.3f}° E; {summary.alt_ft[0]:.0f}–"
            f"{summary.alt_ft[1]:.0f} ft; "
            f"{format_interval(summary.time_s[0], summary.time_s[1])}", soft_wrap=True)
    if cells:
        for c in sorted(shared_a):
            out.print(c)


def register(app: typer.Typer) -> None:
    """Add ``skyaccord intents ...`` to ``app``."""
    app.add_typer(intents_app, name="intents")


