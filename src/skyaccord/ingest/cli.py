"""``skyaccord decode`` and ``skyaccord replay``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from skyaccord.cli_options import (
    Progress,
    atomic_binary_output,
    atomic_output,
    check_output_paths,
    err_console,
    fail,
    fail_with,
    load_accord_option,
)
from skyaccord.errors import FeedError, SkyaccordError
from skyaccord.ingest.formats import FORMATS
from skyaccord.ingest.states import FeedStats, StateUpdate
from skyaccord.ingest.tcp import TcpFeed

__all__ = ["register"]

_FORMAT_HELP = f"Input format: auto (sniffed) or one of {', '.join(FORMATS)}."


def _reference(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        fail(f"--reference: expected LAT,LON in degrees, got {text!r}")
    if not (abs(lat) <= 90.0 and abs(lon) <= 180.0):
        fail(f"--reference: {text!r} is not on the globe")
    return lat, lon


def _summary(stats: FeedStats, rows: int | None = None) -> None:
    text = stats.summary()
    if rows is not None:  # what the file holds, beside what the feed held
        head, _, rest = text.partition("\n")
        text = f"{head}; {rows} rows written" + (f"\n{rest}" if rest else "")
    err_console.print(text, highlight=False, markup=False)


def decode_command(
    file: Annotated[Path, typer.Argument(help="Recorded feed (raw frames, Beast, SBS, "
                                              "OpenSky, traffic, tracks).")],
    fmt: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "auto",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the CSV here; a name ending in .parquet writes Parquet "
                      "(needs the parquet extra: pyarrow).")] = None,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="Receiver LAT,LON: decode lone CPR frames locally and "
        "place surface positions.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Processes decoding raw Mode S (by aircraft; same "
        "output). Default 1: the vectorised decoder outruns the workers.")] = None,
) -> None:
    """Decoded state updates as CSV or Parquet:
    t,icao24,callsign,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm,on_ground."""
    from skyaccord.ingest.columns import StatesCsvWriter, StatesParquetWriter
    from skyaccord.ingest.feed import open_columns

    check_output_paths(out)
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if out is not None and parquet:
        _require_parquet(out)
    if workers is not None and workers > _MAX_WORKERS:
        fail(f"--workers {workers}: at most {_MAX_WORKERS} (this machine's cores)")
    stats = FeedStats(file.name)
    ref = _reference(reference)

    written = [0]

    def write(w: StatesCsvWriter | StatesParquetWriter) -> None:
        with Progress(f"decoding {file.name}") as progress:
            for chunk in open_columns(file, fmt, stats, reference=ref, workers=workers):
                w.write(chunk)
                progress.update(f"{stats.read:,} read, {w.rows:,} rows written")
        written[0] = w.rows

    try:
        if out is None:
            write(StatesCsvWriter(sys.stdout.buffer))
            sys.stdout.buffer.flush()
        elif parquet:  # whole or not at all, as the CSV
            with StatesParquetWriter(out) as pw:
                write(pw)
        else:  # whole or not at all: no half-written file, nor a temporary, is left
            with atomic_binary_output(out) as fh:
                write(StatesCsvWriter(fh))
    except SkyaccordError as exc:
        fail_with(exc)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc}", 1)
    _summary(stats, written[0])


def _require_parquet(out: Path) -> None:
    """Before the work: a missing ``parquet`` extra is an error of the command line."""
    from skyaccord.parquetfile import require_pyarrow

    try:
        require_pyarrow(out)
    except SkyaccordError as exc:
        fail_with(exc)


_LIVE_PORTS = {30003: "sbs", 30002: "raw", 30005: "beast"}  # dump1090/readsb defaults
#: Bounds of replay's options: a detection at most ten times a second of feed time and
#: at least once an hour (--step 1e-9 ran for minutes doing nothing useful); tracks kept
#: a second to a day; a pace up to 10,000 times real time.
_STEP_S, _AGE_S, _SPEED = (0.1, 3600.0), (1.0, 86400.0), (1e-3, 1e4)
#: decode's worker processes: no more than the machine's cores (64 on a 2-core machine
#: took 25 s on a 16 KB file)
_MAX_WORKERS = os.cpu_count() or 1
_LIVE_FORMATS = {"sbs": "sbs", "modes": "raw", "beast": "beast"}


def _live_feed(source: str, fmt: str, reference: tuple[float, float] | None,
               max_retries: int | None) -> TcpFeed:
    host, _, port_text = source.removeprefix("tcp://").rstrip("/").rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        fail(f"{source}: expected tcp://HOST:PORT")
    if not host:
        fail(f"{source}: expected tcp://HOST:PORT")
    kind = _LIVE_PORTS.get(port) if fmt == "auto" else _LIVE_FORMATS.get(fmt)
    if kind is None:
        fail(f"{source}: give --format sbs, modes (raw AVR lines) or beast for a live feed")
    return TcpFeed(host, port, kind, reference=reference, max_retries=max_retries)


def replay_command(
    source: Annotated[str, typer.Argument(
        metavar="FILE", help="Recorded feed to play, or tcp://HOST:PORT for a live "
                             "dump1090/readsb socket (30003 SBS, 30002 raw, 30005 Beast).")],
    fmt: Annotated[str, typer.Option("--format", help=_FORMAT_HELP)] = "auto",
    accord_file: Annotated[Path | None, typer.Option(
        "--accord", help="Accord TOML (default: the shipped 2015 Syria model).")] = None,
    step: Annotated[float, typer.Option("--step", help="Seconds of feed time between "
                                                       "detections.")] = 1.0,
    speed: Annotated[float | None, typer.Option(
        "--speed", help="Pace against the wall clock (2 = twice real time); default: as "
                        "fast as possible.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write alerts CSV here.")] = None,
    max_age: Annotated[float, typer.Option(
        "--max-age", help="Drop tracks not heard for this many seconds.")] = 60.0,
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="TOML of party/class rules (ICAO blocks, callsigns, squawks).")
    ] = None,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="Receiver LAT,LON: decode lone CPR frames locally.")] = None,
    max_retries: Annotated[int | None, typer.Option(
        "--max-retries", help="Live feeds: give up after this many failed reconnections "
                              "in a row (default: never).")] = None,
    record: Annotated[Path | None, typer.Option(
        "--record", metavar="RUN", help="Also write a run directory (new) that "
        "'skyaccord report RUN --out DIR' reads: the tracks played, the alerts and "
        "incursions found; a replay has no line.")] = None,
) -> None:
    """Play a feed through the picture and detection; new alerts as CSV."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn

    from skyaccord.analysis.rundata import check_new_run_dir
    from skyaccord.ingest.feed import read_updates
    from skyaccord.ingest.replay import replay, write_alerts_csv
    from skyaccord.picture import PartyRules, Picture

    check_output_paths(out)
    if record is not None:
        try:  # before any work, as the outputs above
            check_new_run_dir(record)
        except SkyaccordError as exc:
            fail_with(exc)
    accord = load_accord_option(accord_file)
    for name, value, (lo, hi) in (("--step", step, _STEP_S), ("--max-age", max_age, _AGE_S),
                                  ("--speed", speed, _SPEED)):
        if value is not None and not lo <= value <= hi:
            fail(f"{name} {value:g}: must be from {lo:g} to {hi:g}")
    live = source.startswith("tcp://")
    chunks: Iterable[Iterable[StateUpdate]]
    try:
        party_rules = None
        if rules is not None:  # bounded: any bytes give one line (textfiles)
            from skyaccord.textfiles import parse_toml_text, read_text_file

            party_rules = PartyRules.from_dict(parse_toml_text(
                read_text_file(rules, "rules", FeedError), str(rules), FeedError),
                str(rules))
        if live:
            feed = _live_feed(source, fmt, _reference(reference), max_retries)
            chunks, stats = feed, feed.stats
            t0, span = 0.0, None
            played = feed.kind
        else:
            updates, stats = read_updates(Path(source), fmt, _reference(reference))
            chunks = [updates]
            t0 = updates[0].t if updates else 0.0
            span = (updates[-1].t - t0) if updates else 0.0
            played = fmt
    except SkyaccordError as exc:
        fail_with(exc)
    picture = Picture(max_age, party_rules)
    recorder = None
    if record is not None:
        from skyaccord.ingest.record_cli import ReplayRecorder, feed_format
        from skyaccord.node.service import node_zones

        try:
            if not live:
                played = feed_format(Path(source), fmt)
            recorder = ReplayRecorder(accord, picture, node_zones(accord))
        except SkyaccordError as exc:
            fail_with(exc)
        except OSError as exc:
            fail(f"{source}: cannot read: {exc}", 1)
    wall0 = time.perf_counter()
    n = 0
    error: str | None = None
    interrupted = False
    with Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.description}"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("", total=None if span is None else max(span, 1e-9))

        def progress(t: float, ticks: int) -> None:
            if span is None:
                bar.update(task, description=f"{ticks} ticks, {len(picture)} tracks")
            else:
                bar.update(task, completed=min(t - t0, span), description=f"{ticks} ticks")

        alerts = replay(chunks, accord, picture=picture, step_s=step, speed=speed,
                        progress=progress,
                        on_tick=None if recorder is None else recorder.tick)
        try:
            if out is None:
                n = write_alerts_csv(alerts, sys.stdout, flush=live)
            else:
                # a live feed's file grows as alerts come (to follow it); a recording's
                # appears whole, or not at all when the replay fails
                with (out.open("w", newline="", encoding="utf-8") if live
                      else atomic_output(out, newline="")) as fh:
                    n = write_alerts_csv(alerts, fh, flush=live)
        except OSError as exc:
            fail(f"{out}: cannot write: {exc}", 1)
        except SkyaccordError as exc:  # a live feed that gave up reconnecting
            error = str(exc)
        except KeyboardInterrupt:
            error, interrupted = None, True
    _summary(stats)
    err_console.print(f"{n} alert(s); {len(picture)} track(s) in the picture at the end; "
                      f"{picture.merged} report(s) merged by association",
                      highlight=False, markup=False)
    if recorder is not None and record is not None and interrupted and not live:
        # a recording stopped half-way is not its replay (as --out, nothing is written)
        fail(f"{record}: not written: the replay was interrupted", 1)
    elif recorder is not None and record is not None:
        # what was played, also when a live feed was stopped or lost: whole, or nothing
        end = ("the end of the file" if not live else "stopped" if interrupted
               else f"feed lost: {error}" if error else "the end of the feed")
        try:
            recorder.write(record, source=source, fmt=played, step_s=step,
                           max_age_s=max_age, wall_s=time.perf_counter() - wall0,
                           feed={"read": stats.read, "updates": stats.updates,
                                 "rejected": dict(stats.rejected), "end": end})
        except SkyaccordError as exc:
            fail_with(exc)
        except OSError as exc:
            fail(f"{record}: cannot write the run directory: {exc}", 1)
        err_console.print(f"{record}: {recorder.ticks} ticks, {len(recorder.ids)} "
                          "aircraft recorded (skyaccord report "
                          f"{record} --out DIR)", highlight=False, markup=False)
    if error is not None:
        fail(error, 1)


def register(app: typer.Typer) -> None:
    app.command("decode")(decode_command)
    app.command("replay")(replay_command)
