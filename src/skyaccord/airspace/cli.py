"""``skyaccord airspace check|zones``: present and predicted incursions as CSV or GeoJSON;
the zones as GeoJSON."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import numpy as np
import numpy.typing as npt
import typer

from skyaccord.airspace.crossing import Incursions, predict_incursions
from skyaccord.airspace.geojson import incursions_geojson, zones_geojson
from skyaccord.airspace.warning import (
    INCURSION_COLUMNS,
    WarningPolicy,
    incursion_records,
    schedule_warnings,
)
from skyaccord.airspace.zones import (
    Zone,
    load_zones_geojson,
    theatre_borders,
    zones_from_accord,
)
from skyaccord.cli_options import (
    LookaheadOption,
    atomic_output,
    check_output_paths,
    fail,
    fail_with,
    load_accord_option,
    read_picture_option,
)
from skyaccord.errors import SkyaccordError
from skyaccord.geo import NM
from skyaccord.tracks import Tracks

if TYPE_CHECKING:
    from skyaccord.protocol import Accord

__all__ = ["register", "write_incursion_columns", "write_incursion_parquet"]

FormatOption = Annotated[str, typer.Option(
    "--format", help="csv, or geojson (entry points, for QGIS or geojson.io).")]


def check_command(
    tracks: Annotated[Path, typer.Argument(help="Tracks CSV: id,party,class,lat,lon,alt_ft,"
                                                "gs_kt,trk_deg,vs_fpm (class optional).")],
    zones_file: Annotated[Path | None, typer.Option(
        "--zones", help="Zones GeoJSON (default: the shipped theatre borders).")] = None,
    accord_file: Annotated[Path | None, typer.Option(
        "--accord", help="Accord TOML (default: the shipped 2015 Syria model); its "
                         "[[zones]] are checked too.")] = None,
    lookahead: LookaheadOption = None,
    t_now: Annotated[float, typer.Option(
        "--time", help="UTC seconds of the picture (for zones' active windows).")] = 0.0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the CSV here; a name ending in .parquet writes Parquet "
                      "(needs the parquet extra: pyarrow).")] = None,
    warnings_file: Annotated[Path | None, typer.Option(
        "--warnings", help="Also write the warning sequences (JSON lines) here.")] = None,
    fmt: FormatOption = "csv",
) -> None:
    """Present and predicted incursions into zones within the look-ahead, as CSV (or
    GeoJSON entry points)."""
    _check_format(fmt)
    check_output_paths(out, warnings_file)
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if out is not None and parquet:
        if fmt == "geojson":
            fail(f"{out}: Parquet holds the CSV's columns; give a .geojson name for GeoJSON")
        _require_parquet(out)
    accord = load_accord_option(accord_file, lookahead)
    picture = read_picture_option(tracks, accord).tracks
    try:
        zones = _zones(zones_file, accord)
        inc = predict_incursions(picture, zones, accord, t_now_s=t_now)
    except SkyaccordError as exc:
        fail_with(exc)

    def write(fh: TextIO) -> None:
        if fmt == "geojson":
            json.dump(incursions_geojson(incursion_records(picture, zones, inc)), fh, indent=1)
            fh.write("\n")
        else:
            write_incursion_columns(picture, zones, inc, fh)

    try:
        if out is None:
            write(sys.stdout)
        elif parquet:  # whole or not at all, as the CSV
            write_incursion_parquet(picture, zones, inc, out)
        else:
            with atomic_output(out, newline="") as fh:
                write(fh)
        if warnings_file is not None:
            msgs = schedule_warnings(picture, zones, inc, WarningPolicy.from_accord(accord),
                                     t_now)
            with atomic_output(warnings_file) as fh:
                for m in msgs:
                    fh.write(json.dumps(m._asdict()) + "\n")
    except SkyaccordError as exc:
        fail_with(exc)
    except OSError as exc:
        fail(f"cannot write: {exc}", 1)


def _require_parquet(out: Path) -> None:
    """Before the work: a missing ``parquet`` extra is an error of the command line."""
    from skyaccord.parquetfile import require_pyarrow

    try:
        require_pyarrow(out)
    except SkyaccordError as exc:
        fail_with(exc)


def _incursion_order(tracks: Tracks, zones: Sequence[Zone],
                     incursions: Incursions) -> npt.NDArray[np.intp]:
    """The order of the rows: by ``(t_entry_s, id, zone)``, one ``np.lexsort`` on the
    entry time and the ids' and zones' ranks (ids compared as strings)."""
    id_rank = np.empty(len(tracks), dtype=np.intp)
    id_rank[np.argsort(tracks.id, kind="stable")] = np.arange(len(tracks))
    zone_rank = np.empty(len(zones), dtype=np.intp)
    zone_rank[np.argsort(np.array([z.id for z in zones], dtype=np.str_),
                         kind="stable")] = np.arange(len(zones))
    return np.lexsort((zone_rank[incursions.zone], id_rank[incursions.track],
                       incursions.t_entry_s))


def write_incursion_parquet(tracks: Tracks, zones: Sequence[Zone], incursions: Incursions,
                            path: Path) -> None:
    """The ``airspace check`` rows as Parquet at ``path`` (whole or not at all): the
    CSV's columns in its order, numbers unrounded (float64; ``t_exit_s`` null where the
    CSV is empty), ``id``, ``zone`` and ``owner`` strings. Needs pyarrow (the
    ``parquet`` extra)."""
    from skyaccord.parquetfile import Strings, write_parquet

    order = _incursion_order(tracks, zones, incursions)
    track, zone = incursions.track[order], incursions.zone[order]
    # the ids that appear, as a dictionary (not the whole picture's)
    used, code = np.unique(track, return_inverse=True)
    write_parquet({
        "id": Strings(tracks.id[used].tolist(), code),
        "zone": Strings([z.id for z in zones], zone),
        "owner": Strings([z.owner for z in zones], zone),
        "t_entry_s": incursions.t_entry_s[order],
        "t_exit_s": incursions.t_exit_s[order],
        "depth_nm": incursions.depth_m[order] / NM,
    }, path)


def write_incursion_columns(tracks: Tracks, zones: Sequence[Zone], incursions: Incursions,
                            out: TextIO) -> None:
    """The ``airspace check`` CSV from the arrays: the bytes of
    ``write_incursions_csv(incursion_records(...))`` (rows sorted by ``(t_entry_s, id,
    zone)``), without a Python record per row: one ``np.lexsort`` on the entry time and
    the ids' and zones' ranks, each column formatted as a whole, each distinct string
    quoted (as the csv module quotes it) once."""
    n = len(incursions)
    zone_ids = [z.id for z in zones]
    order = _incursion_order(tracks, zones, incursions)
    track, zone = incursions.track[order], incursions.zone[order]
    used = np.unique(track)
    names = dict(zip(used.tolist(), _csv_fields(tracks.id[used].tolist()), strict=True))
    zone_field = _csv_fields(zone_ids)
    owner_field = _csv_fields([z.owner for z in zones])
    t_exit = incursions.t_exit_s[order]
    gone = np.isnan(t_exit).tolist()
    columns = [
        [names[k] for k in track.tolist()],
        [zone_field[k] for k in zone.tolist()],
        [owner_field[k] for k in zone.tolist()],
        [format(v, ".3f") for v in incursions.t_entry_s[order].tolist()],
        ["" if g else format(v, ".3f") for v, g in zip(t_exit.tolist(), gone, strict=True)],
        [format(v, ".4f") for v in (incursions.depth_m[order] / NM).tolist()],
    ]
    out.write(",".join(INCURSION_COLUMNS) + "\n")
    if n:
        out.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def _csv_fields(values: Sequence[str]) -> list[str]:
    """Each string as the csv module writes it in a row (quoted where it must be)."""
    fields = []
    for v in values:
        if any(c in v for c in ',"\r\n'):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([v, ""])
            v = buf.getvalue()[:-2]  # less the empty second field's ",\n"
        fields.append(v)
    return fields


def zones_command(
    zones_file: Annotated[Path | None, typer.Option(
        "--zones", help="Zones GeoJSON (default: the shipped theatre borders).")] = None,
    accord_file: Annotated[Path | None, typer.Option(
        "--accord", help="Accord TOML (default: the shipped 2015 Syria model); its "
                         "[[zones]] are listed too.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the GeoJSON here.")
                   ] = None,
) -> None:
    """The zones checked by `airspace check`, as GeoJSON (borders and the accord's)."""
    check_output_paths(out)
    accord = load_accord_option(accord_file)
    try:
        zones = _zones(zones_file, accord)
    except SkyaccordError as exc:
        fail_with(exc)
    text = json.dumps(zones_geojson(zones)) + "\n"
    try:
        if out is None:
            sys.stdout.write(text)
        else:
            with atomic_output(out) as fh:
                fh.write(text)
    except OSError as exc:
        fail(f"cannot write: {exc}", 1)


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "geojson"):
        fail(f"--format must be csv or geojson, not {fmt!r}")


def _zones(zones_file: Path | None, accord: Accord) -> list[Zone]:
    """The shipped borders or ``zones_file``, and the accord's zones; ids unique."""
    zones: list[Zone] = (theatre_borders() if zones_file is None
                         else load_zones_geojson(zones_file))
    zones += zones_from_accord(accord)
    ids = [z.id for z in zones]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        fail(f"zone ids defined twice (zones file and accord): {', '.join(dup)}")
    return zones


def register(app: typer.Typer) -> None:
    airspace = typer.Typer(help="Sovereign and restricted airspace: incursions, warnings.",
                           no_args_is_help=True)
    airspace.command("check")(check_command)
    airspace.command("zones")(zones_command)
    app.add_typer(airspace, name="airspace")
