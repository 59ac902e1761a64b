"""skyaccord.frames: pictures from DataFrames, tracks and conflicts to DataFrames."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyaccord.errors import InputError, TrackDataError
from skyaccord.frames import (
    TRAFFIC_COLUMNS,
    conflicts_to_frame,
    tracks_from_frame,
    tracks_to_frame,
)
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tracks import TRACK_COLUMNS, Tracks, write_tracks_csv

pd = pytest.importorskip("pandas")

DEG_LON_35N_M = 91_287.8  # metres per degree of longitude at 35 N (WGS84)
NM = 1852.0


def encounter() -> Tracks:
    """A hand-built picture: a head-on pair (loss after 56.25 s), a pair flying formation
    200 ft above the other (loss now, never ending), a same-party crossing, a far one."""
    east = 36.0 + 20 * NM / DEG_LON_35N_M
    return Tracks.from_rows([
        ("zeta", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
        ("alpha", "ru", "manned", 35.0, east, 30000, 480, 270, 0),
        ("f1", "ru", "unmanned", 34.5, 36.0, 15000, 300, 0, 0),
        ("f2", "us", "manned", 34.5, 36.0, 15200, 300, 0, 0),
        ("c1", "us", "civil", 34.0, 36.0, 20000, 400, 90, 0),
        ("c2", "us", "manned", 34.0 - 10 * NM / 110_950.0, 36.0 + 10 * NM / 92_000.0,
         20000, 400, 0, 0),
        ("far", "tr", "manned", 37.0, 40.0, 30000, 450, 180, -500),
    ])


def test_tracks_round_trip() -> None:
    tracks = encounter()
    frame = tracks_to_frame(tracks)
    assert list(frame.columns) == list(TRACK_COLUMNS)
    back = tracks_from_frame(frame)
    for name in ("id", "party", "aircraft_class", "lat", "lon", "alt_ft", "gs_kt", "trk_deg",
                 "vs_fpm"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tracks, name))
    pd.testing.assert_frame_equal(tracks_to_frame(back), frame)


def test_tracks_frame_equals_the_csv_read_by_pandas() -> None:
    # an independent path: skyaccord's CSV writer, pandas' CSV reader
    tracks = encounter()
    text = io.StringIO()
    write_tracks_csv(tracks, text)
    text.seek(0)
    read = pd.read_csv(text, dtype={"id": str, "party": str, "class": str})
    mine = tracks_to_frame(tracks)
    assert read.columns.tolist() == mine.columns.tolist()
    for col in ("id", "party", "class"):
        assert read[col].tolist() == mine[col].tolist()
    for col in ("lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm"):
        np.testing.assert_array_equal(read[col].to_numpy(float), mine[col].to_numpy(float))


def test_a_csv_read_by_pandas_gives_the_tracks() -> None:
    csv = ("id,party,lat,lon,alt_ft,gs_kt,trk_deg,vs_fpm,callsign\n"
           "001,us,35.5,36.25,25000,420,45,-1000,RCH1\n"
           "002,ru,35.6,36.35,26000,400,225,0,\n")
    frame = pd.read_csv(io.StringIO(csv), dtype={"id": str})
    tracks = tracks_from_frame(frame)  # no class column: manned; callsign ignored
    assert tracks.id.tolist() == ["001", "002"]
    assert tracks.aircraft_class.tolist() == ["manned", "manned"]
    assert tracks.vs_fpm.tolist() == [-1000.0, 0.0]


def test_traffic_column_names() -> None:
    frame = tracks_to_frame(encounter()).rename(
        columns={v: k for k, v in TRAFFIC_COLUMNS.items()})
    assert "latitude" in frame.columns and "lat" not in frame.columns
    with pytest.raises(TrackDataError, match=r"missing column.*id, lat, lon"):
        tracks_from_frame(frame)
    tracks = tracks_from_frame(frame, columns=TRAFFIC_COLUMNS)
    np.testing.assert_array_equal(tracks.lat, encounter().lat)


def _cli_conflicts(tmp_path: Path, tracks: Tracks) -> Any:
    path = tmp_path / "tracks.csv"
    with path.open("w", encoding="utf-8") as fh:
        write_tracks_csv(tracks, fh)
    out = subprocess.run([sys.executable, "-m", "skyaccord", "detect", str(path)],
                         capture_output=True, text=True, check=True)
    return pd.read_csv(io.StringIO(out.stdout), dtype={"id1": str, "id2": str, "level": str})


def test_conflicts_frame_equals_the_detect_csv(tmp_path: Path) -> None:
    tracks, accord = encounter(), default_accord()
    frame = conflicts_to_frame(tracks, detect(tracks, accord), accord)
    csv = _cli_conflicts(tmp_path, tracks)
    assert frame.columns.tolist() == [*csv.columns, "same_party"]
    assert len(frame) == len(csv) == 3
    for col in ("id1", "id2", "level"):
        assert frame[col].astype(str).tolist() == csv[col].tolist()
    decimals = {"t_in_s": 3, "t_out_s": 3, "tcpa_s": 3, "dcpa_nm": 4, "dz_ft": 2}
    for col, places in decimals.items():  # the CSV rounds; half a unit in its last place
        np.testing.assert_allclose(frame[col].to_numpy(), csv[col].to_numpy(float),
                                   rtol=0, atol=0.5 * 10.0 ** -places + 1e-12)


def test_conflicts_frame_by_hand() -> None:
    tracks, accord = encounter(), default_accord()
    frame = conflicts_to_frame(tracks, detect(tracks, accord), accord).set_index(["id1", "id2"])
    assert sorted(frame.index) == [("alpha", "zeta"), ("c1", "c2"), ("f1", "f2")]
    # head-on, 20 NM apart closing at 960 kt: 5 NM lost after 15 NM, 56.25 s; closest
    # at 75 s. Level "corrective" (5 NM lost within 120 s), not "warning" (3 NM within
    # 60 s): 3 NM is lost only after closing 17 NM, at 63.75 s
    head_on = frame.loc[("alpha", "zeta")]
    assert head_on.t_in_s == pytest.approx(56.25, abs=0.2)
    assert head_on.tcpa_s == pytest.approx(75.0, abs=0.2)
    assert head_on.dz_ft == pytest.approx(0.0)
    assert head_on.level == "corrective" and not head_on.same_party
    # formation: one 200 ft above the other, same velocity: in loss now and forever
    formation = frame.loc[("f1", "f2")]
    assert formation.t_in_s == 0.0 and math.isinf(formation.t_out_s)
    assert formation.dcpa_nm == 0.0
    assert formation.dz_ft == pytest.approx(200.0)
    assert formation.level == "warning"  # within the warning's 3 NM now
    assert frame.loc[("c1", "c2")].same_party
    # the level is ordered by severity
    assert frame.level.cat.categories.tolist() == ["none", "preventive", "corrective",
                                                   "warning"]
    assert (frame.level >= "corrective").sum() == (frame.level.astype(str).isin(
        ["corrective", "warning"])).sum()


def test_no_conflicts_is_an_empty_frame() -> None:
    tracks, accord = encounter().take([0, 6]), default_accord()
    frame = conflicts_to_frame(tracks, detect(tracks, accord), accord)
    assert len(frame) == 0 and frame.columns.tolist()[-1] == "same_party"
    assert tracks_to_frame(Tracks.empty()).shape == (0, len(TRACK_COLUMNS))
    assert len(tracks_from_frame(tracks_to_frame(Tracks.empty()))) == 0


def _good() -> Any:
    return tracks_to_frame(encounter())


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop(columns=["gs_kt"]), r"missing column\(s\) gs_kt"),
    (lambda f: f.assign(lat=[np.nan, *f.lat[1:]]), r"row 0: column 'lat': missing value"),
    (lambda f: f.assign(alt_ft=f.alt_ft.astype(object).where(f.index != 2, "FL300")),
     r"row 2: column 'alt_ft': not a number: 'FL300'"),
    (lambda f: f.assign(lat=f.lat.where(f.index != 3, 95.0)),
     r"row 3: column 'lat': 95.0 outside \[-90, 90\]"),
    (lambda f: f.assign(gs_kt=f.gs_kt.where(f.index != 1, -5.0)), r"column 'gs_kt'.*outside"),
    (lambda f: f.assign(vs_fpm=f.vs_fpm.where(f.index != 1, np.inf)), r"column 'vs_fpm'"),
    (lambda f: f.assign(party=f.party.where(f.index != 4, None)),
     r"row 4: column 'party': missing value"),
    (lambda f: f.assign(id=f.id.where(f.index != 4, "  ")), r"row 4: column 'id': missing"),
    (lambda f: f.assign(id=f.id.where(f.index < 4, "zeta")),
     r"row 4: column 'id': duplicate id 'zeta' \(first in row 0\)"),
    (lambda f: f.assign(gs_kt=f.gs_kt > 0), r"column 'gs_kt' holds booleans"),
    (lambda f: f.set_axis([*f.index[:-1], 99]).assign(
        lat=lambda g: g.lat.where(g.index != 99, np.nan)),
     r"row 6 \(index 99\): column 'lat': missing value"),
    (lambda f: pd.concat([f, f[["lat"]]], axis=1), r"column\(s\) lat appear more than once"),
])
def test_bad_frames_are_refused_by_column(change: Any, message: str) -> None:
    with pytest.raises(TrackDataError, match=message):
        tracks_from_frame(change(_good()))


def test_unknown_class_and_not_a_frame() -> None:
    with pytest.raises(TrackDataError, match="row 4: column 'class': unknown class 'civil'"):
        tracks_from_frame(_good(), classes=["manned", "unmanned"])
    tracks_from_frame(_good(), classes=default_accord().classes)
    with pytest.raises(TrackDataError, match="expected a pandas DataFrame, got dict"):
        tracks_from_frame({"id": ["a"]})


def test_without_pandas_the_error_says_how_to_install() -> None:
    # a real interpreter where pandas cannot be imported (None in sys.modules blocks it)
    code = ("import sys; sys.modules['pandas'] = None\n"
            "from skyaccord.frames import tracks_to_frame\n"
            "from skyaccord.tracks import Tracks\n"
            "from skyaccord.errors import InputError\n"
            "try:\n    tracks_to_frame(Tracks.empty())\n"
            "except InputError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "DataFrames need pandas: pip install 'skyaccord[pandas]'"
    assert issubclass(InputError, ValueError)
