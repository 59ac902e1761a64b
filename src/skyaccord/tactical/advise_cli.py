"""``skyaccord advise``: resolution bands and the preferred resolution for one aircraft."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from skyaccord.cli_options import (
    AccordOption,
    LookaheadOption,
    atomic_output,
    check_output_paths,
    fail,
    fail_with,
    load_accord_option,
    out_console,
    read_picture_option,
)
from skyaccord.errors import SkyaccordError
from skyaccord.protocol import Accord
from skyaccord.tactical.bands import (
    Advice,
    BandDimension,
    BandSettings,
    band_names,
    bands_for,
    kinematic_track_bands,
    nearest_free,
)

__all__ = ["advice_json", "register"]

_STYLE = {"NONE": "green", "conflict": "magenta", "preventive": "cyan",
          "corrective": "yellow", "warning": "bold red"}


def _fmt(dim: str, value: float) -> str:
    return BandDimension.of(dim).display(value)


def advice_json(advice: Advice, accord: Accord) -> dict[str, Any]:
    """The advice as a JSON-ready dictionary (bands as ranges, values in their units)."""
    names = band_names(accord)
    return {
        "id": advice.id,
        "accord": {"id": accord.id, "version": accord.version, "sha256": accord.sha256},
        "current_level": names[advice.level],
        "bands": {dim: {"unit": b.unit, "current": b.current,
                        "current_level": names[b.current_code],
                        "ranges": [r._asdict() for r in b.ranges(names)]}
                  for dim, b in advice.bands.items()},
        "resolutions": {dim: {"value": None if math.isnan(r.value) else r.value,
                              "delta": None if math.isnan(r.delta) else r.delta,
                              "direction": r.direction}
                        for dim, r in advice.resolutions.items()},
    }


def advise_command(
    tracks: Annotated[Path, typer.Argument(help="Tracks CSV: id,party,class,lat,lon,alt_ft,"
                                                "gs_kt,trk_deg,vs_fpm (class optional).")],
    track_id: Annotated[str, typer.Option("--id", help="The aircraft to advise.")],
    accord_file: AccordOption = None,
    lookahead: LookaheadOption = None,
    track_step: Annotated[float, typer.Option(
        "--track-step", help="Track angle resolution, degrees.")] = 1.0,
    turn_rate: Annotated[float | None, typer.Option(
        "--turn-rate", help="Kinematic track bands: turn at this rate, deg/s (standard "
                            "rate: 3).")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the bands and resolutions as JSON here.")] = None,
) -> None:
    """Conflict-free bands (track, speed, vertical speed, altitude) for one aircraft."""
    check_output_paths(json_out)
    accord = load_accord_option(accord_file, lookahead)
    picture = read_picture_option(tracks, accord).tracks
    try:
        rows = [k for k, v in enumerate(picture.id) if str(v) == track_id]
        if not rows:
            fail(f"{tracks}: no track with id {track_id!r}")
        settings = BandSettings(track_step_deg=track_step)
        advice = bands_for(picture, accord, rows[0], settings=settings)
        if turn_rate is not None:
            kin = kinematic_track_bands(picture, accord, rows[0], settings=settings,
                                        turn_rate_deg_s=turn_rate)
            advice.bands["track"] = kin
            advice.resolutions["track"] = nearest_free(kin)
    except SkyaccordError as exc:
        fail_with(exc)
    except ValueError as exc:
        fail(str(exc))
    names = band_names(accord)
    console = out_console()
    console.print(Text(advice.id, style="bold"),
                  Text(f"now {names[advice.level]} against "
                       f"{len(picture) - 1} aircraft, look-ahead {accord.lookahead_s:g} s, "
                       f"accord {accord.id} v{accord.version}"), sep=": ")
    table = Table("dimension", "from", "to", "level", title="bands")
    for dim, b in advice.bands.items():
        for band in b.ranges(names):
            style = _STYLE.get(band.name, "")
            table.add_row(f"{dim} ({b.unit})", _fmt(dim, band.lo), _fmt(dim, band.hi),
                          Text(band.name, style=style))
    console.print(table)
    res = Table("dimension", "current", "resolution", "change", "direction",
                title="preferred resolution (nearest conflict-free value)")
    for dim, r in advice.resolutions.items():
        b = advice.bands[dim]
        res.add_row(dim, _fmt(dim, b.current), _fmt(dim, r.value),
                    "-" if math.isnan(r.delta) else f"{r.delta:+.0f} {b.unit}", r.direction)
    console.print(res)
    if json_out is not None:
        try:
            with atomic_output(json_out) as fh:
                fh.write(json.dumps(advice_json(advice, accord), indent=2) + "\n")
        except OSError as exc:
            fail(f"{json_out}: cannot write: {exc}", 1)


def register(app: typer.Typer) -> None:
    app.command("advise")(advise_command)
