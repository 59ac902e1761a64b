"""Warning sequences before predicted incursions, and whether the track turned away.

The policy comes from the accord's ``[communications]`` table:
``warning_count`` and ``warning_window_s`` when the accord sets them, else the Turkish
practice of 24 Nov 2015, 10 warnings within 5 minutes on the guard frequencies
(Turkey's letter to the UN Security Council of that day), sent on the accord's
``guard_frequencies_mhz`` (121.5 / 243.0 MHz in the default accord). When a track is
predicted to enter a zone, the sequence is spread over the time left before entry, at
most ``window_s``: warnings at ``t_now + k * min(window, t_entry) / count``,
``k = 0..count-1``; ``short_notice`` marks a sequence squeezed into less than the window.
A track already inside is warned to leave, on the same schedule over the window.

:func:`assess_warnings` takes a later picture and says, per warned track and zone, whether
it turned away (no incursion predicted any more), is still closing, or entered.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TextIO

from skyaccord.airspace.crossing import Incursions, predict_incursions
from skyaccord.airspace.zones import Zone
from skyaccord.errors import InputError
from skyaccord.geo import NM
from skyaccord.protocol import Accord
from skyaccord.tracks import Tracks

__all__ = [
    "DEFAULT_WARNING_COUNT",
    "DEFAULT_WARNING_WINDOW_S",
    "INCURSION_COLUMNS",
    "IncursionRecord",
    "WarningMessage",
    "WarningOutcome",
    "WarningPolicy",
    "assess_warnings",
    "incursion_records",
    "schedule_warnings",
    "write_incursions_csv",
]


DEFAULT_WARNING_COUNT = 10
"""warnings in a sequence when the accord does not say (Turkish practice, 24 Nov 2015)"""
DEFAULT_WARNING_WINDOW_S = 300.0
"""the time over which they are spread when the accord does not say (same source)"""


@dataclass(frozen=True)
class WarningPolicy:
    """How many warnings, over how long, on which frequencies."""

    count: int = DEFAULT_WARNING_COUNT
    """warnings in a sequence (10: Turkish practice, 24 Nov 2015)"""
    window_s: float = DEFAULT_WARNING_WINDOW_S
    """the time over which they are spread (5 minutes, same source)"""
    frequencies_mhz: tuple[float, ...] = (121.5, 243.0)

    def __post_init__(self) -> None:
        if self.count < 1 or not (math.isfinite(self.window_s) and self.window_s > 0):
            raise InputError(f"warning policy: count must be >= 1 and window_s > 0, got "
                             f"count={self.count!r}, window_s={self.window_s!r}")

    @classmethod
    def from_accord(cls, accord: Accord, *, count: int | None = None,
                    window_s: float | None = None) -> WarningPolicy:
        """The accord's policy: ``[communications]`` ``warning_count``,
        ``warning_window_s`` (the defaults above where unset) and guard frequencies;
        ``count`` / ``window_s`` override the accord.

        >>> from skyaccord.protocol import default_accord
        >>> WarningPolicy.from_accord(default_accord())
        WarningPolicy(count=10, window_s=300.0, frequencies_mhz=(121.5, 243.0))
        """
        if count is None:
            count = (DEFAULT_WARNING_COUNT if accord.warning_count is None
                     else accord.warning_count)
        if window_s is None:
            window_s = (DEFAULT_WARNING_WINDOW_S if accord.warning_window_s is None
                        else accord.warning_window_s)
        return cls(count, float(window_s), tuple(accord.guard_frequencies_mhz))


class IncursionRecord(NamedTuple):
    """One incursion in aviation units: the ``airspace check`` CSV row."""

    id: str
    zone: str
    owner: str
    t_entry_s: float
    t_exit_s: float
    """nan when not leaving within the look-ahead"""
    depth_nm: float
    entry_lat: float
    entry_lon: float


def incursion_records(tracks: Tracks, zones: Sequence[Zone],
                      incursions: Incursions) -> list[IncursionRecord]:
    """Incursions as records sorted by ``(t_entry_s, id, zone)``."""
    out = [IncursionRecord(
        str(tracks.id[incursions.track[k]]), zones[int(incursions.zone[k])].id,
        zones[int(incursions.zone[k])].owner, float(incursions.t_entry_s[k]),
        float(incursions.t_exit_s[k]), float(incursions.depth_m[k]) / NM,
        float(incursions.entry_lat[k]), float(incursions.entry_lon[k]))
        for k in range(len(incursions))]
    out.sort(key=lambda r: (r.t_entry_s, r.id, r.zone))
    return out


#: header of ``skyaccord airspace check``'s output (a stable interface)
INCURSION_COLUMNS = ("id", "zone", "owner", "t_entry_s", "t_exit_s", "depth_nm")


def write_incursions_csv(records: Sequence[IncursionRecord], out: TextIO) -> None:
    """Write incursion records to the text stream ``out`` as the ``airspace check`` CSV
    (:data:`INCURSION_COLUMNS`; empty ``t_exit_s``: not leaving within the look-ahead)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(INCURSION_COLUMNS)
    for r in records:
        w.writerow([r.id, r.zone, r.owner, f"{r.t_entry_s:.3f}",
                    "" if math.isnan(r.t_exit_s) else f"{r.t_exit_s:.3f}",
                    f"{r.depth_nm:.4f}"])


class WarningMessage(NamedTuple):
    """One warning to broadcast."""

    id: str
    """callsign (track id)"""
    zone: str
    owner: str
    seq: int
    """1 .. count"""
    t_s: float
    """when to send, UTC seconds"""
    frequencies_mhz: tuple[float, ...]
    text: str
    short_notice: bool
    """the sequence had less than the policy's window before entry"""


def _position(lat: float, lon: float) -> str:
    return (f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} "
            f"{abs(lon):.3f}{'E' if lon >= 0 else 'W'}")


def schedule_warnings(tracks: Tracks, zones: Sequence[Zone], incursions: Incursions,
                      policy: WarningPolicy, t_now_s: float) -> list[WarningMessage]:
    """The warning sequence for the first incursion of each (track, zone).

    Examples
    --------
    >>> from skyaccord.protocol import default_accord
    >>> import numpy as np, shapely
    >>> zone = Zone("tr", "tr", "sovereign", shapely.box(36.0, 36.0, 37.0, 37.0))
    >>> t = Tracks.from_rows([("RF1", "ru", "manned", 35.9, 36.5, 19000, 480, 0, 0)])
    >>> inc = predict_incursions(t, [zone], default_accord())
    >>> msgs = schedule_warnings(t, [zone], inc, WarningPolicy(), 0.0)
    >>> len(msgs), msgs[0].short_notice, round(msgs[1].t_s, 1)
    (10, True, 4.5)
    """
    out: list[WarningMessage] = []
    seen: set[tuple[int, int]] = set()
    for k in range(len(incursions)):
        i, z = int(incursions.track[k]), int(incursions.zone[k])
        if (i, z) in seen:
            continue
        seen.add((i, z))
        zone = zones[z]
        t_entry = float(incursions.t_entry_s[k])
        inside = t_entry == 0.0
        span = policy.window_s if inside else min(policy.window_s, t_entry)
        callsign = str(tracks.id[i])
        where = _position(float(tracks.lat[i]), float(tracks.lon[i]))
        heading = f"{float(tracks.trk_deg[i]) % 360:03.0f}"
        who = zone.name or zone.id
        if inside:
            text = (f"{callsign}, you are inside {who} airspace, position {where}, heading "
                    f"{heading}, {float(tracks.alt_ft[i]):.0f} ft. Leave immediately.")
        else:
            text = (f"{callsign}, you are approaching {who} airspace, position {where}, "
                    f"heading {heading}, {float(tracks.alt_ft[i]):.0f} ft, entry in "
                    f"{t_entry:.0f} seconds. Change your heading immediately.")
        for seq in range(policy.count):
            out.append(WarningMessage(
                callsign, zone.id, zone.owner, seq + 1, t_now_s + seq * span / policy.count,
                policy.frequencies_mhz, text, span < policy.window_s))
    return out


class WarningOutcome(NamedTuple):
    """What a warned track did, judged on a later picture."""

    id: str
    zone: str
    status: str
    """``turned_away``, ``closing`` (still predicted to enter), ``entered`` or ``lost``"""
    t_s: float


def assess_warnings(warnings: Sequence[WarningMessage], later: Tracks, zones: Sequence[Zone],
                    accord: Accord, t_s: float, *, lookahead_s: float | None = None
                    ) -> list[WarningOutcome]:
    """For each warned (track, zone), whether the track turned away by time ``t_s``.

    ``later`` is the picture at ``t_s``. A track no longer in the picture is ``lost``.
    """
    pairs = sorted({(w.id, w.zone) for w in warnings})
    index = {str(v): k for k, v in enumerate(later.id)}
    zone_index = {z.id: k for k, z in enumerate(zones)}
    present = [index[i] for i, _ in pairs if i in index]
    sub = later.take(present) if present else Tracks.empty()
    inc = predict_incursions(sub, zones, accord, lookahead_s=lookahead_s, t_now_s=t_s)
    state: dict[tuple[str, int], float] = {}
    for k in range(len(inc)):
        key = (str(sub.id[inc.track[k]]), int(inc.zone[k]))
        state[key] = min(state.get(key, math.inf), float(inc.t_entry_s[k]))
    out = []
    for callsign, zone_id in pairs:
        if callsign not in index:
            status = "lost"
        else:
            t_entry = state.get((callsign, zone_index[zone_id]))
            status = ("turned_away" if t_entry is None else
                      "entered" if t_entry == 0.0 else "closing")
        out.append(WarningOutcome(callsign, zone_id, status, t_s))
    return out
