"""``skyaccord detect`` and ``skyaccord demo``.

Each command imports what it uses when it runs (numpy, numba's kernels, the demo
picture, rich tables), so that loading this module to register them costs nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from skyaccord.cli_options import (
    AccordOption,
    LookaheadOption,
    err_console,
    fail,
    fail_with,
    load_accord_option,
)
from skyaccord.errors import SkyaccordError

__all__ = ["register"]


def detect_command(
    tracks: Annotated[Path, typer.Argument(help="Tracks CSV: id,party,class,lat,lon,alt_ft,"
                                                "gs_kt,trk_deg,vs_fpm (class optional).")],
    accord_file: AccordOption = None,
    lookahead: LookaheadOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the CSV here; a name ending in .parquet writes Parquet "
                      "(needs the parquet extra: pyarrow).")] = None,
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="Skip bad rows (reported on stderr) instead of failing.")] = False,
) -> None:
    """Predicted losses of separation within the look-ahead, as CSV."""
    from skyaccord.tactical.detect import (
        conflict_table,
        detect,
        write_conflicts_csv,
        write_conflicts_parquet,
    )
    from skyaccord.tracks import read_tracks_csv

    parquet = out is not None and out.suffix.lower() == ".parquet"
    if parquet:
        try:  # before the work: a missing extra is an error of the command line
            import pyarrow.parquet  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
        except ImportError:
            fail(f"{out}: writing Parquet needs pyarrow: pip install 'skyaccord[parquet]'")
    accord = load_accord_option(accord_file, lookahead)
    try:
        read = read_tracks_csv(tracks, skip_bad=skip_bad, classes=accord.classes)
    except SkyaccordError as exc:
        fail_with(exc)
    if read.skipped:
        err_console.print(f"skipped {len(read.skipped)} bad row(s); first: {read.skipped[0]}",
                          highlight=False, markup=False)
    table = conflict_table(read.tracks, detect(read.tracks, accord), accord)
    try:
        if out is None:
            write_conflicts_csv(table, sys.stdout)
        elif parquet:
            write_conflicts_parquet(table, out)
        else:
            with out.open("wb") as fh:
                write_conflicts_csv(table, fh)
    except OSError as exc:
        fail(f"{out or 'stdout'}: cannot write: {exc}", 1)


def demo_command(
    seed: Annotated[int, typer.Option(help="Random seed of the picture.")] = 2015,
    rows: Annotated[int, typer.Option(help="Alerts shown in the table (most urgent first); "
                                            "0 shows all.")] = 30,
    accord_file: AccordOption = None,
) -> None:
    """Detect conflicts in a busy generated picture over north-west Syria."""
    from rich.console import Console
    from rich.table import Table

    from skyaccord.demo import demo_picture
    from skyaccord.tactical.detect import conflict_records, detect
    from skyaccord.tactical.levels import level_names

    accord = load_accord_option(accord_file)
    picture = demo_picture(seed)
    conflicts = detect(picture, accord)
    records = conflict_records(picture, conflicts, accord)
    names = level_names(accord)
    party = {str(i): str(p) for i, p in zip(picture.id, picture.party, strict=True)}
    records.sort(key=lambda r: (-names.index(r.level), r.t_in_s, r.id1, r.id2))

    console = Console()
    console.print(f"[bold]skyaccord demo[/]: {len(picture)} tracks over north-west Syria "
                  f"(parties {', '.join(sorted(set(party.values())))}), accord "
                  f"{accord.id} v{accord.version}, look-ahead {accord.lookahead_s:g} s")
    style = {"warning": "bold red", "corrective": "yellow", "preventive": "cyan"}
    shown = records if rows <= 0 else records[:rows]
    title = f"{len(records)} predicted losses of separation"
    if len(shown) < len(records):
        title += f" (the {len(shown)} most urgent; --rows 0 for all)"
    table = Table("level", "aircraft", "parties", "loss in", "until", "CPA in", "miss (NM)",
                  "dz (ft)", title=title)
    for r in shown:
        parties = f"{party[r.id1]}/{party[r.id2]}" + (" (same)" if r.same_party else "")
        until = "-" if r.t_out_s == float("inf") else f"{r.t_out_s:.0f} s"
        table.add_row(f"[{style.get(r.level, '')}]{r.level}[/]", f"{r.id1} - {r.id2}", parties,
                      "now" if r.t_in_s == 0 else f"{r.t_in_s:.0f} s", until,
                      f"{r.tcpa_s:.0f} s", f"{r.dcpa_nm:.2f}", f"{r.dz_ft:.0f}")
    console.print(table)
    counts = {name: sum(r.level == name for r in records) for name in names}
    console.print("by level: " + ", ".join(f"{n} {c}" for n, c in counts.items() if c)
                  + f"; between parties {sum(not r.same_party for r in records)}, "
                  f"same party {sum(r.same_party for r in records)}")
    by_pair: dict[str, int] = {}
    for r in records:
        key = "/".join(sorted((party[r.id1], party[r.id2])))
        by_pair[key] = by_pair.get(key, 0) + 1
    console.print("by party pair: " + ", ".join(
        f"{k} {v}" for k, v in sorted(by_pair.items(), key=lambda kv: (-kv[1], kv[0]))))


def register(app: typer.Typer) -> None:
    app.command("detect")(detect_command)
    app.command("demo")(demo_command)
