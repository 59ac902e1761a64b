"""Replay: a recorded feed through the picture and tactical detection, in time order.

Every ``step_s`` of feed time the picture is extrapolated to the tick and
:func:`skyaccord.tactical.detect` runs on that snapshot; an :class:`Alert` is emitted for
each pair that is in conflict now and was not at the previous tick, or whose alert level
rose. ``speed`` paces the replay against the wall clock (2.0: twice real time).
``on_tick`` sees each tick whole (the snapshot and every conflict in it): what
``skyaccord replay --record`` writes into a run directory.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final, NamedTuple, TextIO

from skyaccord.errors import InputError
from skyaccord.ingest.states import StateUpdate
from skyaccord.picture import Picture
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import ConflictRecord, conflict_records, detect
from skyaccord.tactical.levels import level_names
from skyaccord.tracks import Tracks

__all__ = ["ALERT_COLUMNS", "Alert", "replay", "write_alerts_csv"]

#: header of ``skyaccord replay``'s output
ALERT_COLUMNS: Final = ("t", "id1", "id2", "t_in_s", "level")


class Alert(NamedTuple):
    """A new conflict (or a higher level) at tick ``t``: ids ordered, ``t_in_s`` from t."""

    t: float
    id1: str
    id2: str
    t_in_s: float
    level: str


def replay(chunks: Iterable[Iterable[StateUpdate]], accord: Accord, *,
           picture: Picture | None = None, step_s: float = 1.0,
           speed: float | None = None,
           progress: Callable[[float, int], None] | None = None,
           sleep: Callable[[float], None] = time.sleep,
           wall: Callable[[], float] = time.monotonic,
           on_tick: Callable[[float, Tracks, list[ConflictRecord]], None] | None = None,
           ) -> Iterator[Alert]:
    """Alerts of a feed replayed tick by tick (ticks at multiples of ``step_s``, from
    the first at or after the first report; a tick sees every report up to its time).

    ``progress(t, ticks)`` is called after each tick; ``on_tick(t, snapshot, conflicts)``
    before it, with the tick's snapshot and all its conflicts (new or not).
    """
    if not (step_s > 0.0):
        raise InputError(f"step must be > 0 s, got {step_s}")
    pic = picture if picture is not None else Picture()
    rank = {name: k for k, name in enumerate(level_names(accord))}
    active: dict[tuple[str, str], int] = {}
    tick: float | None = None
    ticks = 0
    wall0 = wall()
    t_first: float | None = None

    def run_tick(t: float) -> list[Alert]:
        nonlocal active, ticks
        ticks += 1
        if speed is not None and t_first is not None:
            ahead = (t - t_first) / speed - (wall() - wall0)
            if ahead > 0:
                sleep(ahead)
        snap = pic.snapshot(t)
        now: dict[tuple[str, str], int] = {}
        out = []
        records = (conflict_records(snap, detect(snap, accord), accord) if len(snap) > 1
                   else [])
        for r in records:
            key = (r.id1, r.id2)
            now[key] = rank[r.level]
            if key not in active or active[key] < now[key]:
                out.append(Alert(t, r.id1, r.id2, r.t_in_s, r.level))
        active = now
        if on_tick is not None:
            on_tick(t, snap, records)
        if progress is not None:
            progress(t, ticks)
        return out

    for chunk in chunks:
        for u in chunk:
            if t_first is None:
                t_first = u.t
                tick = math.ceil(u.t / step_s) * step_s
            assert tick is not None
            if u.t > tick:
                if len(pic.live(tick)) == 0:  # nothing to extrapolate: skip idle time
                    tick = max(tick, math.floor(u.t / step_s) * step_s)
                while u.t > tick:
                    yield from run_tick(tick)
                    tick += step_s
                pic.drop_stale(u.t)
            pic.update(u)
    if tick is not None:
        yield from run_tick(tick)


def write_alerts_csv(alerts: Iterable[Alert], out: TextIO, *, flush: bool = False) -> int:
    """Write alerts as CSV (:data:`ALERT_COLUMNS`), each flushed if ``flush`` (live
    feeds); how many."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(ALERT_COLUMNS)
    n = 0
    for a in alerts:
        w.writerow([f"{a.t:.3f}", a.id1, a.id2, f"{a.t_in_s:.3f}", a.level])
        n += 1
        if flush:
            out.flush()
    return n
