"""``skyaccord airspace check|zones``: present and predicted incursions as CSV or GeoJSON;
the zones as GeoJSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from skyaccord.airspace.crossing import predict_incursions
from skyaccord.airspace.geojson import incursions_geojson, zones_geojson
from skyaccord.airspace.warning import (
    WarningPolicy,
    incursion_records,
    schedule_warnings,
    write_incursions_csv,
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

if TYPE_CHECKING:
    from skyaccord.protocol import Accord

__all__ = ["register"]

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
    out: Annotated[Path | None, typer.Option("--out", help="Write the CSV here.")] = None,
    warnings_file: Annotated[Path | None, typer.Option(
        "--warnings", help="Also write the warning sequences (JSON lines) here.")] = None,
    fmt: FormatOption = "csv",
) -> None:
    """Present and predicted incursions into zones within the look-ahead, as CSV (or
    GeoJSON entry points)."""
    _check_format(fmt)
    check_output_paths(out, warnings_file)
    accord = load_accord_option(accord_file, lookahead)
    picture = read_picture_option(tracks, accord).tracks
    try:
        zones = _zones(zones_file, accord)
        inc = predict_incursions(picture, zones, accord, t_now_s=t_now)
    except SkyaccordError as exc:
        fail_with(exc)
    records = incursion_records(picture, zones, inc)

    def write(fh: TextIO) -> None:
        if fmt == "geojson":
            json.dump(incursions_geojson(records), fh, indent=1)
            fh.write("\n")
        else:
            write_incursions_csv(records, fh)

    try:
        if out is None:
            write(sys.stdout)
        else:
            with atomic_output(out, newline="") as fh:
                write(fh)
        if warnings_file is not None:
            msgs = schedule_warnings(picture, zones, inc, WarningPolicy.from_accord(accord),
                                     t_now)
            with atomic_output(warnings_file) as fh:
                for m in msgs:
                    fh.write(json.dumps(m._asdict()) + "\n")
    except OSError as exc:
        fail(f"cannot write: {exc}", 1)


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
