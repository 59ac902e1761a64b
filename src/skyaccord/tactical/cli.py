"""``skyaccord detect``.

The command imports what it uses when it runs (numpy, numba's kernels), so that loading
this module to register it costs nothing. (``skyaccord demo`` is the simulator's:
:mod:`skyaccord.sim.cli`.)
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from skyaccord.cli_options import (
    AccordOption,
    LookaheadOption,
    Progress,
    atomic_binary_output,
    check_output_paths,
    err_console,
    fail,
    load_accord_option,
    read_picture_option,
)

__all__ = ["register"]


def detect_command(
    tracks: Annotated[Path, typer.Argument(help="Tracks CSV: id,party,class,lat,lon,alt_ft,"
                                                "gs_kt,trk_deg,vs_fpm (class optional); "
                                                "or a feed (decode's states, a run's "
                                                "tracks): its picture at its last time.")],
    accord_file: AccordOption = None,
    lookahead: LookaheadOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the CSV here; a name ending in .parquet writes Parquet "
                      "(needs the parquet extra: pyarrow).")] = None,
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="Skip bad rows (reported on stderr) instead of failing.")] = False,
    fmt: Annotated[str, typer.Option(
        "--format", help="csv, or geojson (each pair's closest approach as a line, for "
                         "QGIS or geojson.io).")] = "csv",
) -> None:
    """Predicted losses of separation within the look-ahead, as CSV or Parquet."""
    from skyaccord.tactical.detect import (
        conflict_table,
        detect,
        write_conflicts_csv,
        write_conflicts_parquet,
    )

    if fmt not in ("csv", "geojson"):
        fail(f"--format must be csv or geojson, not {fmt!r}")
    check_output_paths(out)
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if parquet and fmt == "geojson":
        fail(f"{out}: Parquet holds the CSV's columns; give a .geojson name for GeoJSON")
    if parquet:
        try:  # before the work: a missing extra is an error of the command line
            import pyarrow.parquet  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
        except ImportError:
            fail(f"{out}: writing Parquet needs pyarrow: pip install 'skyaccord[parquet]'")
    accord = load_accord_option(accord_file, lookahead)
    warming = _warm_while_reading(tracks)
    try:
        with Progress(f"reading {tracks}"):
            read = read_picture_option(tracks, accord, skip_bad=skip_bad)
    finally:  # also before exiting on a bad file: no thread left inside LLVM at exit
        if warming is not None:
            warming.join()
    if read.skipped:
        err_console.print(f"skipped {len(read.skipped)} bad row(s); first: {read.skipped[0]}",
                          highlight=False, markup=False)
    with Progress(f"detecting among {len(read.tracks):,} tracks"):
        table = conflict_table(read.tracks, detect(read.tracks, accord), accord)
    if fmt == "geojson":
        import json

        from skyaccord.tactical.geojson import conflicts_geojson

        text = json.dumps(conflicts_geojson(read.tracks, table, accord)) + "\n"
        try:
            if out is None:
                sys.stdout.write(text)
            else:
                with atomic_binary_output(out) as fh:
                    fh.write(text.encode("utf-8"))
        except OSError as exc:
            fail(f"{out or 'stdout'}: cannot write: {exc}", 1)
        return
    try:
        if out is None:
            write_conflicts_csv(table, sys.stdout)
        elif parquet:
            write_conflicts_parquet(table, out)
        else:  # whole or not at all: what was there stays when the write fails
            with atomic_binary_output(out) as fh:
                write_conflicts_csv(table, fh)
    except OSError as exc:
        fail(f"{out or 'stdout'}: cannot write: {exc}", 1)
    if len(table) >= _FREEZE_FROM:
        # The command is done and the process about to end: the interpreter's last
        # collection would walk every object numba and the result made (a quarter of a
        # second after a large run) to free memory the exit frees anyway.
        import gc

        gc.freeze()


#: conflicts from which ``detect`` skips the interpreter's final garbage collection
_FREEZE_FROM = 100_000


def _warm_while_reading(path: Path) -> threading.Thread | None:
    """For a tracks CSV of at least :data:`~skyaccord.tactical.detect.COMPILED_FROM`
    rows (the compiled engine's), a thread that loads numba and the cached kernels
    while the file is read: most of that load (LLVM, file reads) and of pyarrow's
    parsing runs outside the GIL, so on two cores they overlap. None otherwise."""
    from skyaccord.tactical.detect import COMPILED_FROM

    try:
        with path.open("rb") as fh:
            head = fh.readline(4096).decode("utf-8", errors="replace").lstrip("\ufeff")
            cols = {c.strip().lower() for c in head.split(",")}
            if not {"id", "party"} <= cols or "t" in cols:
                return None  # a feed: its track count is not its line count
            lines = 0
            while lines < COMPILED_FROM and (chunk := fh.read(1 << 20)):
                lines += chunk.count(b"\n")
    except OSError:
        return None  # the reader says what is wrong
    if lines < COMPILED_FROM:
        return None

    def warm() -> None:
        try:
            from skyaccord.tactical._warm import warm_kernels

            warm_kernels()
        except Exception:  # the real call loads them, and says what fails
            pass

    thread = threading.Thread(target=warm, name="warm-kernels", daemon=True)
    thread.start()
    return thread


def register(app: typer.Typer) -> None:
    app.command("detect")(detect_command)
