"""State updates (what every reader yields) and per-reason feed statistics.

A :class:`StateUpdate` is one timestamped report about one aircraft, in aviation units at
this edge (degrees, ft, kt, deg, ft/min). A field is ``None`` where the report does not
say (a velocity message carries no position). Readers never raise on bad input: they
count it in a :class:`FeedStats` under a reason from :data:`REASONS` and go on.

:class:`StateUpdate` is defined by :mod:`skyaccord.picture`, which takes it, and named here
for the readers that make it: the picture does not import the feed readers, so the
dependency runs one way (ingest -> picture).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from skyaccord.picture import StateUpdate

__all__ = [
    "KT_MAX",
    "REASONS",
    "FeedStats",
    "StateUpdate",
    "check_update",
]

#: fastest plausible ground speed, kt: above any manned aircraft in service (the SR-71's
#: record is ~1,900 kt, FAI 1976); a report above it is an impossible speed.
KT_MAX: Final = 2500.0

#: why an input was refused, one counter each
REASONS: Final = (
    "bad line",            # a text line that does not parse (fields, numbers, JSON)
    "not hex",             # a raw frame with non-hexadecimal characters
    "bad length",          # a raw frame neither 56 nor 112 bits long
    "crc",                 # a DF17/18 frame whose CRC-24 parity does not check
    "undecodable",         # a frame the decoder refuses (unknown format, reserved fields)
    "unknown address",     # an all-call/surveillance reply from an aircraft never heard
    "beast resync",        # bytes skipped in a Beast stream to find the next frame
    "impossible position",  # latitude/longitude outside the globe, or not finite
    "impossible speed",    # ground speed negative or above KT_MAX, or not finite
    "impossible altitude",  # altitude below -2,000 ft or above 200,000 ft
    "position jump",       # implied speed from the aircraft's last position above KT_MAX
    "cpr no fix",          # even/odd CPR pair in different latitude zones (no position)
    "time backwards",      # a timestamp earlier than the feed's latest by > the tolerance
    "disconnect",          # a live feed dropped (counted, then reconnected)
)


@dataclass
class FeedStats:
    """Counts of what a feed read, produced and refused (per reason), and an example."""

    name: str = "feed"
    read: int = 0
    """input units read (lines, frames, rows)"""
    updates: int = 0
    """state updates produced"""
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def reject(self, reason: str, example: str = "") -> None:
        """Count one refused input under ``reason`` (one of :data:`REASONS`)."""
        self.rejected[reason] += 1
        if example and reason not in self.examples:
            self.examples[reason] = example[:200]

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line per reason, e.g. for the end of a run.

        >>> s = FeedStats("f.txt", read=3, updates=1)
        >>> s.reject("crc", "line 2: 8d...")
        >>> print(s.summary())
        f.txt: 3 read, 1 updates, 1 rejected
          crc: 1 (first: line 2: 8d...)
        """
        lines = [f"{self.name}: {self.read} read, {self.updates} updates, "
                 f"{self.total_rejected} rejected"]
        for reason, n in sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
            ex = self.examples.get(reason)
            lines.append(f"  {reason}: {n}" + (f" (first: {ex})" if ex else ""))
        return "\n".join(lines)


def _bad_number(v: float | None, lo: float, hi: float) -> bool:
    return v is not None and not (math.isfinite(v) and lo <= v <= hi)


def check_update(u: StateUpdate) -> str | None:
    """The reason ``u`` is impossible, or ``None`` when it is plausible.

    >>> check_update(StateUpdate(0.0, "abc123", lat=91.0, lon=0.0))
    'impossible position'
    >>> check_update(StateUpdate(0.0, "abc123", gs_kt=3000.0, trk_deg=0.0)) is None
    False
    """
    if _bad_number(u.lat, -90.0, 90.0) or _bad_number(u.lon, -180.0, 180.0) or (
            (u.lat is None) != (u.lon is None)):
        return "impossible position"
    if _bad_number(u.gs_kt, 0.0, KT_MAX) or _bad_number(u.trk_deg, -360.0, 360.0) or \
            _bad_number(u.vs_fpm, -60_000.0, 60_000.0):
        return "impossible speed"
    if _bad_number(u.alt_ft, -2_000.0, 200_000.0):
        return "impossible altitude"
    return None
