"""Real recordings from the ``traffic`` library's samples (tests/data/README.md): a
dump1090 Beast capture checked against CRC parity, rs1090 and pyModeS, and gzip input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import rs1090

from skyaccord.errors import FeedError
from skyaccord.ingest import read_updates
from skyaccord.ingest.modes import BeastParser
from skyaccord.ingest.states import FeedStats

from .conftest import DATA, SAMPLE

BEAST = DATA / "sample_dump1090.bin"
#: the capture was received near Toulouse-Blagnac (traffic's own test decodes it with
#: the reference "LFBO"); aerodrome reference point, AIP France
LFBO = (43.6293, 1.3638)


def _crc24(body: bytes) -> int:
    """Mode S parity, bit by bit (ICAO Annex 10 Vol IV §3.1.2.3.3): kept separate from
    skyaccord's table-driven CRC so that the framing check does not use the code under
    test."""
    poly, reg = 0x1FFF409, 0
    for byte in body + b"\0\0\0":
        for k in range(7, -1, -1):
            reg = (reg << 1) | ((byte >> k) & 1)
            if reg & 0x1000000:
                reg ^= poly
    return reg


def _beast_frames() -> list[tuple[float, str]]:
    stats = FeedStats()
    frames = list(BeastParser(stats=stats).feed(BEAST.read_bytes()))
    assert stats.total_rejected == 0
    return [(f.t, f.frame.lower()) for f in frames]


def test_beast_capture_framing_against_parity() -> None:
    """Every frame of the real capture carries a valid parity: exact CRC for DF17, CRC
    overlaid with the interrogator code (< 128) for DF11 all-call replies, and for the
    replies that overlay the address, the address of an aircraft heard in DF11/17. An
    escaping or framing error would break all three."""
    frames = _beast_frames()
    assert len(frames) == 239
    times = [t for t, _ in frames]
    assert times == sorted(times) and 23.0 < times[-1] - times[0] < 25.0
    addresses: set[str] = set()
    overlaid = []
    for _, f in frames:
        b = bytes.fromhex(f)
        df = b[0] >> 3
        parity = int.from_bytes(b[-3:], "big")
        if df == 17:
            assert _crc24(b[:-3]) == parity, f
            addresses.add(f[2:8])
        elif df == 11:
            assert _crc24(b[:-3]) ^ parity < 128, f
            addresses.add(f[2:8])
        else:
            overlaid.append(f"{_crc24(b[:-3]) ^ parity:06x}")
    # two aircraft heard throughout, two others in a single all-call reply each
    assert addresses == {"3981e4", "48520a", "44ce69", "440062"}
    assert set(overlaid) <= addresses and len(overlaid) == 239 - 113


def test_beast_capture_positions_equal_rs1090() -> None:
    """Our CPR state over the Beast reader vs rs1090's own batch position decoding."""
    ours, stats = read_updates(BEAST)
    frames = _beast_frames()
    ref = rs1090.decode([f for _, f in frames], [t for t, _ in frames])
    theirs = {(m["timestamp"], m["icao24"]): m for m in ref if "latitude" in m}
    pos = {(u.t, u.icao24): u for u in ours if u.kind == "position"}
    assert stats.read == 239
    # six DF0/4/5 replies of 3981e4 come before its first DF11: not yet attributable
    assert dict(stats.rejected) == {"unknown address": 6}
    assert len(pos) == 3 and set(pos) == set(theirs)
    for key, u in pos.items():
        assert u.lat == pytest.approx(theirs[key]["latitude"], abs=1e-9)
        assert u.lon == pytest.approx(theirs[key]["longitude"], abs=1e-9)
        assert u.alt_ft == theirs[key]["altitude"] == 38000
    # east-north-east of the receiver, ~11 km: a plausible fix for a ground station
    assert all(43.6 < (u.lat or 0) < 43.7 and 1.2 < (u.lon or 0) < 1.25
               for u in pos.values())


def test_beast_capture_against_pymodes() -> None:
    """Second decoder (pyModeS, GPL: an optional test dependency only): every
    position, velocity, altitude, squawk and callsign we decode from the capture."""
    pms = pytest.importorskip("pyModeS", reason="pyModeS (GPL-3, extra 'crosscheck') "
                              "is the optional second decoder")
    ours, _ = read_updates(BEAST)
    by_time = {t: f for t, f in _beast_frames()}
    seen: dict[str, int] = {}
    for u in ours:
        m = pms.decode(by_time[u.t], reference=LFBO)
        assert m["icao"].lower() == u.icao24
        if u.kind == "position":
            assert u.lat == pytest.approx(m["latitude"], abs=1e-6)
            assert u.lon == pytest.approx(m["longitude"], abs=1e-6)
            assert u.alt_ft == m["altitude"]
        elif u.kind == "velocity":
            assert u.gs_kt == pytest.approx(m["groundspeed"], abs=1.0)
            assert u.trk_deg == pytest.approx(m["track"], abs=0.01)
            assert u.vs_fpm == m["vertical_rate"]
        elif u.kind == "altitude":
            assert u.alt_ft == m["altitude"]
        elif u.kind == "identity":
            if "callsign" in m:
                assert u.callsign == m["callsign"].strip("_ ")
            else:
                assert u.squawk == m["squawk"]
        seen[u.kind] = seen.get(u.kind, 0) + 1
    assert seen == {"altitude": 95, "identity": 28, "velocity": 8, "position": 3}
    assert {u.callsign for u in ours if u.callsign} == {"TRA89M"}


def test_gzip_files_read_like_plain_ones(tmp_path: Path) -> None:
    """``.gz`` recordings (as traffic ships its samples) read transparently, in every
    format path: text frames, Beast, and a truncated archive is a FeedError."""
    for src in (SAMPLE, BEAST):
        packed = tmp_path / (src.name + ".gz")
        packed.write_bytes(gzip.compress(src.read_bytes()))
        got, stats = read_updates(packed)
        want, want_stats = read_updates(src)
        assert [u._replace(source="") for u in got] == [
            u._replace(source="") for u in want]
        assert (stats.read, stats.rejected) == (want_stats.read, want_stats.rejected)
        assert len(got) > 100
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(gzip.compress(SAMPLE.read_bytes())[:2000])
    with pytest.raises(FeedError, match="cannot read"):
        read_updates(bad)
