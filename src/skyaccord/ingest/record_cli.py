"""``skyaccord replay --record RUN``: a replay written as a run directory that
``skyaccord report RUN --out DIR`` reads, as it reads a simulated run's.

What the replay played, tick by tick (:class:`ReplayRecorder`, fed by
:func:`skyaccord.ingest.replay.replay`'s ``on_tick``):

- ``tracks.npz`` / ``tracks.csv``: each tick's snapshot, the tracks as the picture
  extrapolated them to the tick (time, id, position, altitude, speeds), written by the
  simulator's writer (:func:`skyaccord.analysis.rundata.write_tracks`), with each
  aircraft's party and class as the feed or the rules gave them (the last given, should
  they change);
- ``alerts.jsonl``: each conflict and incursion as it appeared, changed level and
  cleared, in the node's alert records, seen by one observer (``"node": "replay"``)
  that watches every zone a node of the accord watches (the accord's own and the
  shipped borders of its parties: ``zones.geojson``, those that came within reach);
- ``accord.toml`` and ``run.json``: ``"kind": "replay"``, the source and its format, the
  accord's id and hash, the time span, the aircraft, ``"line": false``.

A replay has no line: no messages, intents, warnings nor overdue lists; the report says
so, and the conduct figures that need them are not applicable. The directory appears
whole or not at all (:func:`skyaccord.analysis.rundata.new_run_dir`).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skyaccord.airspace.crossing import predict_incursions
from skyaccord.airspace.geojson import zones_geojson
from skyaccord.airspace.zones import Zone
from skyaccord.analysis.rundata import TRACK_COLUMNS, new_run_dir, write_jsonl, write_tracks
from skyaccord.geo import KT, LocalPlane
from skyaccord.picture import Picture
from skyaccord.protocol import Accord
from skyaccord.tactical.detect import ConflictRecord
from skyaccord.tactical.levels import level_names
from skyaccord.tracks import Tracks

__all__ = ["OBSERVER", "ReplayRecorder", "feed_format"]

#: the ``node`` of a replay's alerts: one observer, of no party
OBSERVER = "replay"
#: metres in a degree of latitude, at least (WGS84, at the equator), for the zones' reach
_M_PER_DEG_LAT = 110_574.0
#: a margin on the zones' reach: the picture's own extrapolation and the plane's scale
_REACH_MARGIN_M = 10_000.0


def feed_format(path: Path, fmt: str) -> str:
    """The format a recorded feed is read as: ``fmt``, or the sniffed one for ``auto``
    (gzip looked through, as the readers do)."""
    if fmt != "auto":
        return fmt
    from skyaccord.ingest.formats import sniff_format

    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"\x1f\x8b"):
        with gzip.open(path, "rb") as gz:
            head = gz.read(4096)
    return sniff_format(path, head)


class ReplayRecorder:
    """Collects each tick of a replay; :meth:`write` makes the run directory.

    ``zones``: what the observer watches for incursions (a node's zones, see the module
    docstring); a tick predicts incursions into those whose bounds its tracks can reach
    within the accord's look-ahead, so a recording far from every zone costs nothing.
    """

    def __init__(self, accord: Accord, picture: Picture, zones: Sequence[Zone]) -> None:
        self.accord = accord
        self.picture = picture
        self.zones = list(zones)
        self._bounds = np.array([z.geometry.bounds for z in self.zones],
                                dtype=np.float64).reshape(-1, 4)
        self._reached: set[int] = set()
        self._levels = level_names(accord)
        self.ids: list[str] = []
        self._row: dict[str, int] = {}
        self.labels: list[tuple[str, str]] = []
        self.callsigns: list[str | None] = []
        self.t_first: list[float] = []
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in TRACK_COLUMNS
                                                  if k not in ("x_m", "y_m")}
        self.alerts: list[dict[str, Any]] = []
        self._active: dict[str, tuple[int, dict[str, Any]]] = {}
        self.ticks = 0
        self.t0: float | None = None
        self.t1: float | None = None

    # -- each tick --------------------------------------------------------------------
    def tick(self, t: float, snap: Tracks, conflicts: list[ConflictRecord]) -> None:
        """One tick: its snapshot's tracks, its conflicts and incursions."""
        self.ticks += 1
        self.t0 = t if self.t0 is None else self.t0
        self.t1 = t
        n = len(snap)
        if n:
            rows = np.fromiter((self._row_of(str(i), t) for i in snap.id.tolist()),
                               dtype=np.int32, count=n)
            for k, r in enumerate(rows.tolist()):
                self.labels[r] = (str(snap.party[k]), str(snap.aircraft_class[k]))
            c = self.cols
            c["t"].append(np.full(n, t))
            c["row"].append(rows)
            for name in ("lat", "lon", "alt_ft", "gs_kt", "trk_deg", "vs_fpm"):
                c[name].append(np.asarray(getattr(snap, name), dtype=np.float64).copy())
        party = dict(zip(snap.id.tolist(), snap.party.tolist(), strict=True))
        now: dict[str, tuple[int, dict[str, Any]]] = {}
        for r in conflicts:
            rank = self._levels.index(r.level)
            now[f"conflict:{r.id1}|{r.id2}"] = (rank, {
                "type": "conflict", "id1": r.id1, "id2": r.id2, "party1": party[r.id1],
                "party2": party[r.id2], "level": r.level, "rank": rank, "t_in_s": r.t_in_s,
                "t_out_s": None if not np.isfinite(r.t_out_s) else r.t_out_s,
                "tcpa_s": r.tcpa_s, "dcpa_nm": r.dcpa_nm, "dz_ft": r.dz_ft})
        if n:
            now.update(self._incursions(t, snap))
        for key, (rank, alert) in now.items():
            old = self._active.get(key)
            if old is None or old[0] != rank:
                self.alerts.append({"node": OBSERVER, "t": t,
                                    "change": "new" if old is None else "changed",
                                    "key": key, **alert})
        for key in self._active.keys() - now.keys():
            self.alerts.append({"node": OBSERVER, "t": t, "change": "cleared", "key": key})
        self._active = now

    def _row_of(self, ident: str, t: float) -> int:
        r = self._row.get(ident)
        if r is None:
            r = self._row[ident] = len(self.ids)
            self.ids.append(ident)
            self.labels.append(("", ""))
            self.callsigns.append(None)
            self.t_first.append(t)
        if self.callsigns[r] is None and ident in self.picture.index:
            self.callsigns[r] = self.picture.said(ident)["callsign"]
        return r

    def _near(self, snap: Tracks) -> list[int]:
        """The zones whose bounds the snapshot's tracks can reach within the look-ahead."""
        if not self.zones:
            return []
        reach_m = (float(np.max(snap.gs_kt, initial=0.0)) * KT * self.accord.lookahead_s
                   + _REACH_MARGIN_M)
        dlat = reach_m / _M_PER_DEG_LAT
        lat_max = min(89.0, float(np.max(np.abs(snap.lat))) + dlat)
        dlon = min(360.0, dlat / np.cos(np.radians(lat_max)))
        lo_lat, hi_lat = float(np.min(snap.lat)) - dlat, float(np.max(snap.lat)) + dlat
        lo_lon, hi_lon = float(np.min(snap.lon)) - dlon, float(np.max(snap.lon)) + dlon
        b = self._bounds
        # longitudes compared as they are (the shipped zones do not cross 180 degrees)
        ok = (b[:, 0] <= hi_lon) & (b[:, 2] >= lo_lon) & (b[:, 1] <= hi_lat) & (b[:, 3] >= lo_lat)
        return np.flatnonzero(ok).tolist()

    def _incursions(self, t: float, snap: Tracks) -> dict[str, tuple[int, dict[str, Any]]]:
        near = self._near(snap)
        if not near:
            return {}
        self._reached.update(near)
        zones = [self.zones[k] for k in near]
        inc = predict_incursions(snap, zones, self.accord, t_now_s=t, depth=False)
        out: dict[str, tuple[int, dict[str, Any]]] = {}
        # rows sorted by track, zone, entry: the first of each pair is its earliest
        for j in range(len(inc)):
            tid = str(snap.id[int(inc.track[j])])
            zone = zones[int(inc.zone[j])]
            key = f"incursion:{tid}|{zone.id}"
            if key in out:
                continue
            t_entry = float(inc.t_entry_s[j])
            inside = t_entry == 0.0
            t_exit = float(inc.t_exit_s[j])
            out[key] = (int(inside), {
                "type": "incursion", "id": tid, "party": str(snap.party[int(inc.track[j])]),
                "zone": zone.id, "owner": zone.owner,
                "level": "incursion" if inside else "predicted", "t_entry_s": t_entry,
                "t_exit_s": t_exit if np.isfinite(t_exit) else None,
                "entry": [float(inc.entry_lat[j]), float(inc.entry_lon[j])]})
        return out

    # -- the run directory ------------------------------------------------------------
    def write(self, path: Path, *, source: str, fmt: str, step_s: float,
              max_age_s: float, wall_s: float, feed: dict[str, Any]) -> dict[str, Any]:
        """Write the run directory at ``path`` (new, or an empty directory); its
        ``run.json``. Raises :class:`~skyaccord.errors.InputError` for a path that
        cannot take it, :class:`OSError` when writing fails (nothing is left then)."""
        from skyaccord.sim.toml_out import accord_toml

        arrays = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in self.cols.items()}
        # one plane for the run, centred on what was played (as the simulator's is on
        # its theatre): the encounters' distances are measured on it
        lat, lon = arrays["lat"], arrays["lon"]
        if lat.size:
            centre = (float((lat.min() + lat.max()) / 2), float(_mid_lon(lon)))
            x, y = LocalPlane(*centre).forward(lat, lon)
        else:
            centre, x, y = (0.0, 0.0), np.zeros(0), np.zeros(0)
        arrays["x_m"], arrays["y_m"] = x, y
        accord = self.accord
        parties = sorted({p.id for p in accord.parties} | {p for p, _ in self.labels})
        t0 = self.t0 if self.t0 is not None else 0.0
        t1 = self.t1 if self.t1 is not None else t0
        name = source if "://" in source else Path(source).name  # a live feed: its URL
        meta = {"kind": "replay", "scenario": f"replay of {name}",
                "source": source, "format": fmt, "seed": None, "line": False,
                "observer": OBSERVER, "t0": t0, "t1": t1, "step_s": step_s,
                "max_age_s": max_age_s,
                "date": time.strftime("%Y-%m-%d", time.gmtime(t0)), "centre": list(centre),
                "parties": parties,
                "accord": {"id": accord.id, "sha256": accord.sha256,
                           "response_deadline_s": accord.response_deadline_s},
                "wall_s": wall_s, "steps": self.ticks, "feed": feed,
                "aircraft": [{"id": i, "party": p, "class": c, "callsign": cs,
                              "type": None, "mission": None, "t_start": ts}
                             for i, (p, c), cs, ts in zip(self.ids, self.labels,
                                                          self.callsigns, self.t_first,
                                                          strict=True)]}
        with new_run_dir(path) as tmp:
            (tmp / "accord.toml").write_text(accord_toml(accord), encoding="utf-8")
            (tmp / "zones.geojson").write_text(json.dumps(zones_geojson(
                [self.zones[k] for k in sorted(self._reached)])), encoding="utf-8")
            write_tracks(tmp, arrays, [(i, p, c) for i, (p, c) in
                                       zip(self.ids, self.labels, strict=True)])
            write_jsonl(tmp / "alerts.jsonl", self.alerts)
            (tmp / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return meta


def _mid_lon(lon: np.ndarray) -> float:
    """The middle of the longitudes' span, across 180 degrees where that span is shorter."""
    lo, hi = float(lon.min()), float(lon.max())
    if hi - lo <= 180.0:
        return (lo + hi) / 2
    wrapped = np.where(lon < 0, lon + 360.0, lon)
    mid = (float(wrapped.min()) + float(wrapped.max())) / 2
    return mid - 360.0 if mid > 180.0 else mid
