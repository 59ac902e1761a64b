"""The columnar path of ``skyaccord decode``: the vectorised CSV writer writes the bytes
of the row-by-row writer; numbers formatted as Python formats them; the block reader of
raw-frame lines reads what the line-by-line reader reads; ``on_ground`` round trip."""

from __future__ import annotations

import gzip
import io
import itertools
import math
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.ingest.columns import StateColumns, StatesCsvWriter, _fixed
from skyaccord.ingest.feed import open_columns, open_feed, read_updates
from skyaccord.ingest.formats import read_states_csv, write_states_csv
from skyaccord.ingest.modes import frame_blocks, frames_from_lines
from skyaccord.ingest.states import FeedStats, StateUpdate

from .conftest import DATA

FILES = ["short_flights.csv", "sample_dump1090.bin", "full_flight_takeoff.jsonl.gz",
         "full_flight_landing.jsonl.gz", "quickstart_paris_10min.json.gz",
         "sample_dump1090.sbs"]


def _text(v: np.ndarray, d: int) -> list[str]:
    chars, keep = _fixed(v, d)
    return [bytes(c[k]).decode() for c, k in zip(chars, keep, strict=True)]


def test_numbers_formatted_as_python_formats_them() -> None:
    rng = random.Random(5)
    vals = [0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 7.25, 1e-7, -1e-7, 179.9999995,
            -179.9999995, 1720248993.3691158, 99.95, 0.05, 1e15, np.nan]
    vals += [rng.uniform(-200, 200) for _ in range(3000)]
    vals += [rng.randrange(-4000, 4000) / 8 for _ in range(2000)]  # exact ties
    vals += [rng.uniform(1.7e9, 1.8e9) for _ in range(2000)]
    # ties at every number of decimals, and one just under 2**52 (its last digit decides)
    vals += [(rng.randrange(10**7) + 0.5) / 10**rng.randrange(0, 7) for _ in range(3000)]
    vals += [4503599627370495.5, -4503599627370494.5, 0.0000005, 0.0000015, 2.675]
    v = np.array(vals)
    for d in (0, 1, 2, 6):
        assert _text(v, d) == ["" if x != x else f"{x:.{d}f}" for x in vals], d


@pytest.mark.parametrize("name", FILES)
def test_columnar_writer_writes_the_row_writer_bytes(name: str) -> None:
    path = DATA / name
    ups, _ = read_updates(path, reference=(43.6293, 1.3638) if "dump1090" in name else None)
    rows = io.StringIO()
    n = write_states_csv(ups, rows)
    for size in (len(ups) + 1, 97):  # whole, and chunks that carry values across
        buf = io.BytesIO()
        w = StatesCsvWriter(buf)
        for k in range(0, len(ups), size):
            w.write(StateColumns.from_updates(ups[k:k + size]))
        assert buf.getvalue().decode() == rows.getvalue()
        assert w.rows == n
    # what `decode` runs: columns straight from the file
    buf = io.BytesIO()
    w = StatesCsvWriter(buf)
    for c in open_columns(path, reference=(43.6293, 1.3638) if "dump1090" in name else None):
        w.write(c)
    assert buf.getvalue().decode() == rows.getvalue()


def test_names_that_need_quoting() -> None:
    ups = [StateUpdate(1.0, 'a,"b', "state", "X,Y", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
           StateUpdate(2.0, "c", "ground", None, 1.5, 2.5, None, 3.0, 90.0)]
    rows = io.StringIO()
    write_states_csv(ups, rows)
    buf = io.BytesIO()
    StatesCsvWriter(buf).write(StateColumns.from_updates(ups))
    assert buf.getvalue().decode() == rows.getvalue()
    assert '"a,""b"' in rows.getvalue()


def test_on_ground_round_trip(tmp_path: Path) -> None:
    """The landing's surface reports come back from the CSV as ground updates with their
    positions, ground speed and track; the airborne rows as states."""
    out = tmp_path / "landing.csv"
    res = CliRunner().invoke(app, ["decode", str(DATA / "full_flight_landing.jsonl.gz"),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    back = list(read_states_csv(out.read_text().splitlines(), FeedStats()))
    ups, _ = read_updates(DATA / "full_flight_landing.jsonl.gz")
    gnd = [u for u in ups if u.kind == "ground"]
    got = [u for u in back if u.kind == "ground"]
    assert len(got) == len(gnd) == 147
    for a, b in zip(gnd, got, strict=True):
        assert b.t == pytest.approx(a.t, abs=1e-6)
        if a.lat is not None:
            assert b.lat == pytest.approx(a.lat, abs=1e-6)
            assert b.lon == pytest.approx(a.lon, abs=1e-6)
        assert b.alt_ft is None and b.vs_fpm is None
    # every position or velocity update gives a row, but for repeats of one instant
    # (the same time and state as the aircraft's previous row), left out
    states = [u for u in ups if u.kind in ("position", "velocity")]
    repeats = sum(a.t == b.t for a, b in itertools.pairwise(states))
    assert sum(u.kind == "state" for u in back) >= len(states) - repeats
    lines = out.read_text().splitlines()
    assert len(set(lines)) == len(lines)  # no row written twice (the take-off had 16)


def _blocks(data: bytes, block_bytes: int) -> tuple[list[tuple[float, str, int]],
                                                    FeedStats]:
    stats = FeedStats()
    out = []
    for b in frame_blocks(io.BytesIO(data), stats, "f", block_bytes):
        out += list(zip(b.t.tolist(), b.frame, b.line.tolist(), strict=True))
    return out, stats


def _lines(data: bytes) -> tuple[list[tuple[float, str, int]], FeedStats]:
    stats = FeedStats()
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace")
    return [(f.t, f.frame, f.line) for f in frames_from_lines(text, stats, "f")], stats


@pytest.mark.parametrize("case", ["json", "text", "messy"])
def test_block_reader_reads_what_the_line_reader_reads(case: str) -> None:
    jl = gzip.decompress((DATA / "full_flight_landing.jsonl.gz").read_bytes())
    csv_ = (DATA / "short_flights.csv").read_bytes()
    data = {"json": jl, "text": csv_,
            "messy": b"\xef\xbb\xbf" + csv_[:3000] + b"\n\n  \nnot a frame\n"
                     + b"1.5 zz12\r\n*8D4840D6202CC371C32CE0576098;\n" + jl[:5000]
                     + b'{"timestamp": 1e400, "frame": "8d"}\n' + csv_[3000:]}[case]
    want, s_want = _lines(data)
    for size in (1 << 20, 4096, 100):
        got, s_got = _blocks(data, size)
        assert got == want
        assert s_got.rejected == s_want.rejected and s_got.read == s_want.read


def test_decode_streams_large_files_in_blocks(tmp_path: Path) -> None:
    """A file of several blocks decodes as one: the decoder's state carries over."""
    jl = gzip.decompress((DATA / "full_flight_landing.jsonl.gz").read_bytes())
    path = tmp_path / "landing.jsonl"
    path.write_bytes(jl)
    whole = [u for c in open_feed(path) for u in c]
    import skyaccord.ingest.modes as modes

    stats = FeedStats()
    from skyaccord.ingest.decoder import ModeSDecoder

    d = ModeSDecoder(stats, source=path.name)
    parts = []
    with path.open("rb") as fh:
        for b in modes.frame_blocks(fh, stats, path.name, 10_000):
            parts += d.decode_columns(b.t, b.frame, str).updates(path.name)
    assert parts == whole and len(whole) > 1900


def test_decimal_times_read_as_float_reads_them() -> None:
    from skyaccord.ingest.modes import _decimals

    rng = random.Random(1)
    vals = [repr(rng.uniform(1e9, 2e9)) for _ in range(5000)]
    vals += [f"{rng.uniform(0, 1e6):.{rng.randrange(0, 9)}f}" for _ in range(5000)]
    vals += ["-0", "0", "-1.5", "1e400", "12345678901234567.5", "1720248993.3691158",
             "1.0000000000000002", "nan", "999999999999999", "9999999999999999"]
    # 17 and 18 digits (jet1090's times), among them decimals a hair from the midpoint
    # between two floats, on both sides, and next to powers of two
    vals += [repr(rng.uniform(1.6e9, 1.8e9)) for _ in range(5000)]
    for _ in range(3000):
        x = math.ldexp(rng.random() + 1.0 if rng.random() < 0.9 else 1.0,
                       rng.choice([30, 31, 40, 56, 0]))
        mid = Decimal(x) + Decimal(math.ulp(x)) / 2 * rng.choice([1, -1])
        for sig in (17, 18):
            text = format(mid.quantize(Decimal(1).scaleb(mid.adjusted() - sig + 1)), "f")
            vals.append(text if "." in text else text + ".0")
    block = (",".join(vals) + ",").encode()
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 0x2C)
    starts = np.concatenate(([0], ends[:-1] + 1))
    got = _decimals(block, arr, starts, ends).tolist()
    want = [float(v) for v in vals]
    assert [str(x) for x in got] == [str(x) for x in want]
    assert np.signbit(got[vals.index("-0")])


def _line_block(lines: list[bytes]) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    block = b"\n".join(lines) + b"\n"
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    return block, arr, np.concatenate(([0], ends[:-1] + 1)), ends


def test_json_line_reader_gives_the_general_readers_frames() -> None:
    """``_json_lines`` (keys compared as words, quotes and commas at the line's own
    offsets, ``bytes.fromhex``) gives ``_json_rows``' result, or leaves the block to it."""
    from skyaccord.ingest.modes import _json_lines, _json_rows

    real = gzip.decompress((DATA / "full_flight_landing.jsonl.gz").read_bytes()).splitlines()
    rng = random.Random(7)
    spaced = [b'{"timestamp": %s, "frame": "%s"}' % (
        repr(round(1.72e9 + k * 0.37 + rng.random(), rng.randrange(0, 7))).encode(),
        ln.split(b'"frame":"')[1][:ln.split(b'"frame":"')[1].index(b'"')])
        for k, ln in enumerate(real)]
    head, odd = spaced[:5], spaced[5]
    cases = {
        "jet1090 lines (17-digit times, more keys after the frame)": real,
        "rs1090's short form": spaced,
        "a negative and an exponent time": [spaced[0].replace(b": 1", b": -1"),
                                            spaced[1].replace(b", ", b"e0, ", 1), *spaced],
        "a frame of 26 digits": [*head, odd[:-4] + b'"}'],
        "a blank inside a frame": [*head, odd[:40] + b" " + odd[41:]],
        "a quote early in a frame": [*head, odd[:35] + b'"' + odd[36:]],
        "a time of 40 characters": [*head, odd.replace(b": ", b": " + b"0" * 30, 1)],
        "no space after the comma": [ln.replace(b", ", b",") for ln in spaced],
        "not hex": [*head, odd.replace(b'frame": "', b'frame": "z', 1)[:-3] + b'"}'],
    }
    fast_cases = 0
    for name, lines in cases.items():
        block, arr, starts, ends = _line_block(lines)
        want = _json_rows(block, arr, starts, ends)
        parsed = _json_lines(block, arr, starts, ends)
        got = None if parsed is None else parsed[0]
        if got is None:
            continue
        fast_cases += 1
        assert want is not None, name
        assert np.array_equal(got.t, want.t) and list(got.frame) == list(want.frame), name
        assert np.array_equal(np.signbit(got.t), np.signbit(want.t)), name
        for a, b in ((got.rows, want.rows), (got.lens, want.lens), (got.is_hex, want.is_hex)):
            assert np.array_equal(a, b), name
    # with the lines that end at their frame told (their time key need not be counted)
    assert [(p is not None, p is not None and p[1]) for p in (
        _json_lines(*_line_block(real)), _json_lines(*_line_block(spaced)))] == [
        (True, False), (True, True)]
    assert fast_cases >= 4
