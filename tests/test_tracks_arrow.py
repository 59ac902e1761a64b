"""A large tracks CSV parsed by pyarrow equals the row-by-row reader (a stream, the
reference), bit for bit, and anything out of the ordinary falls back to the Python
readers: random files, good and spoilt one way at a time, with numbers in every form
Python's ``float`` reads."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from skyaccord import tracks as tracks_module
from skyaccord.tracks import TRACK_COLUMNS, read_tracks_csv
from tests.test_tracks_reader import CLASSES, SPOILERS, arrange, both, csv_text, good_rows

pytest.importorskip("pyarrow")

# Forms of numbers: Python's float reads all of them; Arrow some (the rest must fall back).
ODD_NUMBERS = ["1.", ".5", "+1", "1e2", "1E2", "1e+2", "-0", "0001", " 7", "7 ", "\t7",
               "1_0", "\u0661\u0662", "5e-324", "12.50000000000000000000001"]


@pytest.fixture
def arrow_always(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every file goes to the Arrow path first; the list records whether it answered."""
    answered: list[bool] = []
    real = tracks_module._read_arrow

    def spy(text: str, classes: object) -> object:
        got = real(text, classes)  # type: ignore[arg-type]
        answered.append(got is not None)
        return got

    monkeypatch.setattr(tracks_module, "ARROW_FROM_BYTES", 0)
    monkeypatch.setattr(tracks_module, "_read_arrow", spy)
    return answered


@pytest.mark.parametrize("seed", range(8))
def test_arrow_equals_rows_on_good_and_spoilt_files(tmp_path: Path, seed: int,
                                                     arrow_always: list[bool]) -> None:
    rng = random.Random(seed)
    moved = bool(seed % 2)
    header = arrange(list(TRACK_COLUMNS), moved)
    rows = good_rows(rng, rng.randint(1, 40))
    fast, slow = both(tmp_path, csv_text(header, [arrange(r, moved) for r in rows]))
    assert fast == slow
    assert arrow_always[0]  # a plain good file: Arrow answered
    for spoil in SPOILERS:
        bad = [list(r) for r in rows]
        spoil(bad[rng.randrange(len(bad))])
        for skip in (False, True):
            fast, slow = both(tmp_path, csv_text(header, [arrange(r, moved) for r in bad]),
                              skip_bad=skip)
            assert fast == slow, (spoil, skip)


@pytest.mark.parametrize("odd", ODD_NUMBERS)
def test_every_form_of_number_reads_as_float_reads_it(tmp_path: Path, odd: str,
                                                       arrow_always: list[bool]) -> None:
    rng = random.Random(len(odd))
    rows = good_rows(rng, 12)
    for r in rows:
        r[5] = odd  # alt_ft: every form above is within its range
    fast, slow = both(tmp_path, csv_text(list(TRACK_COLUMNS), rows))
    assert fast == slow
    assert fast[3][0][2] == float(odd)  # type: ignore[index]


def test_quotes_blank_lines_and_no_class_column(tmp_path: Path,
                                                arrow_always: list[bool]) -> None:
    rng = random.Random(5)
    rows = good_rows(rng, 20)
    no_class = [c for c in TRACK_COLUMNS if c != "class"]
    plain = csv_text(no_class, [[v for k, v in enumerate(r) if k != 2] for r in rows])
    fast, slow = both(tmp_path, plain.replace("\n", "\n\n", 3))
    assert fast == slow and arrow_always[0]
    assert set(fast[2]) == {"manned"}  # type: ignore[index]
    quoted = csv_text(list(TRACK_COLUMNS), [[f'"{r[0]}"', *r[1:]] for r in rows])
    arrow_always.clear()
    fast, slow = both(tmp_path, quoted)
    assert fast == slow and not arrow_always[0]  # quotes: left to the csv module
    # A carriage return left in a field (a file read with universal newlines has no
    # other): the csv module's reading of it decides.
    stray = csv_text(list(TRACK_COLUMNS), [[f"{r[0]}\r", *r[1:]] for r in rows])
    arrow_always.clear()
    p = tmp_path / "t.csv"
    p.write_bytes(stray.encode())
    read_tracks_csv(p, skip_bad=True, classes=CLASSES)
    assert arrow_always == [False]


def test_long_numbers_are_the_same_bits(tmp_path: Path, arrow_always: list[bool]) -> None:
    """The benchmark's file: 17 significant digits, the nearest double each time."""
    rng = np.random.default_rng(3)
    n = 2000
    values = rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-8, 4, n)
    rows = [[f"a{k}", "us", "manned", repr(35 + v / 1e4), repr(36 + v / 1e4),
             repr(20000 + v), repr(300 + v / 1e3), repr(180 + v / 1e2), repr(v)]
            for k, v in enumerate(values.tolist())]
    path = tmp_path / "t.csv"
    path.write_text(csv_text(list(TRACK_COLUMNS), rows), encoding="utf-8")
    got = read_tracks_csv(path, classes=CLASSES).tracks
    assert arrow_always == [True]
    expected = np.array([[float(x) for x in r[3:]] for r in rows])
    assert got.vs_fpm.tobytes() == expected[:, 5].tobytes()
    assert np.column_stack([got.lat, got.lon, got.alt_ft, got.gs_kt, got.trk_deg,
                            got.vs_fpm]).tobytes() == expected.tobytes()
