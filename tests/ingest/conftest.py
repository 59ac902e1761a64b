"""Shared fixtures of the ingest tests: the real recorded sample and frame tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyaccord.ingest.modes import crc24

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "short_flights.csv"
#: the sample was received near Atlanta (KATL): every aircraft is within 180 NM of it
ATLANTA = (33.64, -84.43)


def sample_lines() -> list[tuple[float, str]]:
    out = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        t, frame = line.split(",")
        out.append((float(t), frame))
    return out


def readdress(frame: str, icao24: str) -> str:
    """A DF17 frame with another ICAO address and a valid parity (CRC-24 recomputed)."""
    body = bytes.fromhex(frame[:2] + icao24 + frame[8:22])
    return (body + crc24(body).to_bytes(3, "big")).hex().upper()


def beast_frame(frame: str, counter: int, signal: int = 0x80) -> bytes:
    """One Beast record, with every 0x1a escaped (doubled)."""
    raw = bytes.fromhex(frame)
    body = counter.to_bytes(6, "big") + bytes([signal]) + raw
    kind = b"2" if len(raw) == 7 else b"3"
    return b"\x1a" + kind + body.replace(b"\x1a", b"\x1a\x1a")


@pytest.fixture
def sample() -> list[tuple[float, str]]:
    return sample_lines()
