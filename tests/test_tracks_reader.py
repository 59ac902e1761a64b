"""The tracks CSV read by columns (a file with every row good) equals the row-by-row
reader (a stream, the reference), and any bad file gets the row reader's own answer:
random files, good and spoilt one way at a time."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest

from skyaccord.errors import TrackDataError
from skyaccord.tracks import TRACK_COLUMNS, read_tracks_csv

CLASSES = ("manned", "unmanned", "civil")


def good_rows(rng: random.Random, n: int) -> list[list[str]]:
    return [[f"t{k}", rng.choice(["us", "ru", " tr "]), rng.choice(["manned", "", "civil"]),
             repr(rng.uniform(-89, 89)), f"{rng.uniform(-179, 179):.5f}",
             str(rng.randint(-1000, 60000)), f" {rng.uniform(0, 900):.1f}",
             repr(rng.uniform(0, 360)), str(rng.randint(-6000, 6000))] for k in range(n)]


SPOILERS = [
    lambda r: r.__setitem__(3, "95"), lambda r: r.__setitem__(6, "1e300"),
    lambda r: r.__setitem__(5, ""), lambda r: r.__setitem__(0, ""),
    lambda r: r.__setitem__(7, "north"), lambda r: r.__setitem__(2, "balloon"),
    lambda r: r.__setitem__(4, "nan"), lambda r: r.append("extra"),
    lambda r: r.pop(), lambda r: r.__setitem__(0, "t0"),  # a duplicate id
]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def both(tmp: Path, text: str, skip_bad: bool = False) -> tuple[object, object]:
    p = tmp / "t.csv"
    p.write_text(text, encoding="utf-8")

    def read(src: object) -> object:
        try:
            got = read_tracks_csv(src, skip_bad=skip_bad, classes=CLASSES)  # type: ignore[arg-type]
        except TrackDataError as exc:
            return ("error", str(exc).split(": ", 1)[1])  # the source's name differs
        t = got.tracks
        return (t.id.tolist(), t.party.tolist(), t.aircraft_class.tolist(),
                np.column_stack([t.lat, t.lon, t.alt_ft, t.gs_kt, t.trk_deg,
                                 t.vs_fpm]).tolist(), [str(b) for b in got.skipped])

    return read(p), read(io.StringIO(text))


def arrange(row: list[str], moved: bool) -> list[str]:
    """The row in the file's column order: as TRACK_COLUMNS, or moved (kinematics first,
    a note column, then id, party, class); fields beyond nine stay at the end."""
    if not moved or len(row) < 9:
        return row
    return [*row[3:9], "x", *row[:3], *row[9:]]


@pytest.mark.parametrize("seed", range(8))
def test_columns_equal_rows_on_good_and_spoilt_files(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    moved = bool(seed % 2)
    header = arrange(list(TRACK_COLUMNS), moved)
    rows = good_rows(rng, rng.randint(0, 40))
    fast, slow = both(tmp_path, csv_text(header, [arrange(r, moved) for r in rows]))
    assert fast == slow
    if not rows:
        return
    for spoil in SPOILERS:
        bad = [list(r) for r in rows]
        spoil(bad[rng.randrange(len(bad))])
        for skip in (False, True):
            fast, slow = both(tmp_path, csv_text(header, [arrange(r, moved) for r in bad]),
                              skip_bad=skip)
            assert fast == slow, (spoil, skip)
