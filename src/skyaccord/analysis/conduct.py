"""Conduct per party: who kept to the accord, in figures each side can check.

From a recorded run: losses of separation each party caused (the aircraft whose own
motion closed the pair more when separation was lost), incursions into other parties'
airspace (from the owner's node, and their time inside from the true tracks), warnings
ignored (an aircraft warned on the guard frequencies that entered anyway), responses
owed over the line and given late or never (against each request's due time), and
notices given (intents filed and announced) with their lead time before the mission, and
how many came later than the accord's ``notice_lead_time_s``.

A replay of a surveillance feed (``skyaccord replay --record``) has no line and no
operators: the figures that need them (:data:`LINE_FIGURES`: warnings, requests and
responses, intents and notices, the overdue list) are None there, "not applicable", not
zero; its alerts and incursions are the replay's own (one observer, ``node`` "replay",
that watches every party's zones), and each party's alerts are those its aircraft are in.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skyaccord.analysis.encounters import Encounters, encounters
from skyaccord.analysis.rundata import Run
from skyaccord.analysis.severity import EUROCONTROL, ICAO, classify

__all__ = ["LINE_FIGURES", "Conduct", "Summary", "summarize"]

#: the conduct figures that need the line or the operators' guard-frequency warnings:
#: None in a run without them (a replay), where they do not apply
LINE_FIGURES = ("warnings_received", "warnings_ignored", "requests_received",
                "responses_on_time", "responses_late", "responses_never", "intents_filed",
                "intents_refused", "notices_sent", "notices_short")


@dataclass
class Conduct:
    party: str
    aircraft: int = 0
    los_involved: int = 0
    los_caused: int = 0
    incursions: int = 0
    incursion_s: float = 0.0
    warnings_received: int | None = 0
    warnings_ignored: int | None = 0
    requests_received: int | None = 0
    responses_on_time: int | None = 0
    responses_late: int | None = 0
    responses_never: int | None = 0
    intents_filed: int | None = 0
    intents_refused: int | None = 0
    notices_sent: int | None = 0
    notice_lead_min_s: float | None = None
    notice_lead_mean_s: float | None = None
    notices_short: int | None = 0
    """intents filed with less lead time than the accord's ``notice_lead_time_s``"""
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def has_line(self) -> bool:
        """Whether the :data:`LINE_FIGURES` apply (None where they do not: a replay)."""
        return self.requests_received is not None

    @property
    def responses_overdue(self) -> int:
        """Responses given late or never; 0 without a line (see :attr:`has_line`:
        ``summary.json`` and the report say "not applicable" there)."""
        return (self.responses_late or 0) + (self.responses_never or 0)


@dataclass
class Summary:
    """Everything the report shows in numbers (written as ``summary.json``)."""

    scenario: str
    seed: int | None
    """None for a replay"""
    t0: float
    t1: float
    aircraft: int
    encounters: list[dict[str, Any]]
    severity: dict[str, int]
    conduct: dict[str, Conduct]
    alerts_by_level: dict[str, int]
    alerts_by_party: dict[str, dict[str, int]]
    incursions: list[dict[str, Any]]
    messages: dict[str, int]
    overdue: int | None
    """responses overdue at the end (the nodes' lists); None without a line"""
    line: list[dict[str, Any]]
    kind: str = "run"
    """``"run"`` (simulated) or ``"replay"`` (a recorded feed)"""
    source: str | None = None
    """what a replay played (the feed's path or address)"""
    has_line: bool = True
    """False: the run had no line (a replay): the line's figures do not apply"""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for p, c in self.conduct.items():
            d["conduct"][p]["responses_overdue"] = c.responses_overdue if c.has_line else None
        return d

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1))


def _encounter_rows(run: Run, enc: Encounters, sev: np.ndarray) -> list[dict[str, Any]]:
    ids = run.grid.ids
    rows = []
    for k in range(len(enc)):
        a, b = ids[int(enc.a[k])], ids[int(enc.b[k])]
        pa, pb = run.aircraft[a]["party"], run.aircraft[b]["party"]
        rows.append({"id1": a, "id2": b, "party1": pa, "party2": pb,
                     "t_cpa": float(enc.t_cpa[k]), "h_miss_nm": float(enc.h_miss_m[k]) / 1852,
                     "v_miss_ft": float(enc.v_miss_m[k]) / 0.3048,
                     "angle_deg": float(enc.angle_deg[k]),
                     "closure_kt": float(enc.closure_m_s[k]) * 3600 / 1852,
                     "los_s": float(enc.los_s[k]),
                     "t_los": None if not np.isfinite(enc.t_los[k]) else float(enc.t_los[k]),
                     "ratio": float(enc.ratio[k]), "severity": str(sev[k]),
                     "eurocontrol": EUROCONTROL[str(sev[k])], "icao": ICAO[str(sev[k])],
                     "minima_nm": float(enc.r_m[k]) / 1852,
                     "minima_ft": float(enc.h_m[k]) / 0.3048})
    return rows


def _cause(run: Run, enc: Encounters, k: int) -> int:
    """The aircraft (grid column) whose own velocity closed the pair more when
    separation was first lost (at the closest approach when it never was)."""
    g = run.grid
    a, b = int(enc.a[k]), int(enc.b[k])
    t = enc.t_los[k] if np.isfinite(enc.t_los[k]) else enc.t_cpa[k]
    i = int(np.clip(np.searchsorted(g.t, t) - 1, 0, len(g.t) - 1))
    ok = [j for j in (i, i + 1, i - 1) if 0 <= j < len(g.t)
          and np.isfinite(g.x_m[j, a]) and np.isfinite(g.x_m[j, b])]
    if not ok:
        return a
    j = ok[0]
    rel = np.array([g.x_m[j, b] - g.x_m[j, a], g.y_m[j, b] - g.y_m[j, a]])
    u = rel / max(float(np.hypot(*rel)), 1e-9)
    closing_a = float(np.array([g.vx_m_s[j, a], g.vy_m_s[j, a]]) @ u)
    closing_b = float(-np.array([g.vx_m_s[j, b], g.vy_m_s[j, b]]) @ u)
    return a if closing_a >= closing_b else b


def summarize(run: Run) -> Summary:
    """Encounters, severity and conduct of a recorded run."""
    classes = [run.aircraft[i]["class"] for i in run.grid.ids]
    # a mission's package flies in formation: its pairs are left out; an aircraft of no
    # mission (a replay's) is a group of its own
    missions = [run.aircraft[i].get("mission") or f"\0{i}" for i in run.grid.ids]
    enc = encounters(run.grid, run.accord, classes, groups=missions)
    sev = classify(enc)
    rows = _encounter_rows(run, enc, sev)
    parties = run.parties
    conduct = {p: Conduct(p) for p in parties}
    for a in run.aircraft.values():
        if a["party"] in conduct:
            conduct[a["party"]].aircraft += 1
    severity = {c: int((sev == c).sum()) for c in "ABCDE"}
    for k, row in enumerate(rows):
        if row["los_s"] <= 0:
            continue
        for p in {row["party1"], row["party2"]}:
            if p in conduct:
                conduct[p].los_involved += 1
        cause = run.grid.ids[_cause(run, enc, k)]
        cp = run.aircraft[cause]["party"]
        row["caused_by"] = cause
        if cp in conduct and row["party1"] != row["party2"]:
            conduct[cp].los_caused += 1
    # alerts: distinct alert keys and their highest level, as each party's own node saw
    # (a replay: the one observer's alerts, each party's those its aircraft are in)
    replay = run.kind == "replay"
    highest: dict[tuple[str, str], str] = {}
    involved: dict[tuple[str, str], set[str]] = {}
    order: dict[str, int] = {}
    by_level: dict[str, int] = defaultdict(int)
    by_party: dict[str, dict[str, int]] = {} if replay else {p: defaultdict(int)
                                                             for p in parties}
    incursions: dict[tuple[str, str], dict[str, Any]] = {}
    for al in run.alerts:
        if al["change"] == "cleared":
            continue
        rank = int(al.get("rank", 10 if al["level"] == "incursion" else 9))
        order[al["level"]] = rank
        key = (al["node"], al["key"])
        if key not in highest or order[highest[key]] < rank:
            highest[key] = al["level"]
        involved[key] = ({al["party"]} if al["type"] == "incursion"
                         else {al.get("party1", ""), al.get("party2", "")})
        # an incursion as the owner's node saw it (a replay sees every zone)
        if al["type"] == "incursion" and al["level"] == "incursion" \
                and (replay or al["owner"] == al["node"]) and al["party"] != al["owner"]:
            incursions.setdefault((al["id"], al["zone"]), {
                "id": al["id"], "party": al["party"], "zone": al["zone"],
                "owner": al["owner"], "t": al["t"]})
    for (node, _key), level in highest.items():
        by_level[level] += 1
        by_party.setdefault(node, defaultdict(int))[level] += 1
        if replay:
            for p in involved[(node, _key)]:
                if p in conduct:
                    conduct[p].alerts[level] = conduct[p].alerts.get(level, 0) + 1
    if not replay:
        for p in parties:
            conduct[p].alerts = dict(by_party[p])
    # incursions: time inside from the true tracks, per intruding party
    _incursion_times(run, incursions)
    for inc in incursions.values():
        if inc["party"] in conduct:
            conduct[inc["party"]].incursions += 1
            conduct[inc["party"]].incursion_s += inc.get("inside_s", 0.0)
    line: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    overdue: int | None = None
    if run.has_line:
        line, kinds = _line_conduct(run, conduct, incursions)
        overdue = sum(1 for items in run.overdue.values() for d in items
                      if d["late_s"] >= 0)
    else:  # not applicable: no line, no operators (not zero)
        for c in conduct.values():
            for name in LINE_FIGURES:
                setattr(c, name, None)
    seed = run.meta.get("seed")
    return Summary(run.meta["scenario"], None if seed is None else int(seed),
                   float(run.meta["t0"]), float(run.meta["t1"]), len(run.aircraft), rows,
                   severity, conduct, dict(by_level),
                   {p: dict(v) for p, v in by_party.items()},
                   sorted(incursions.values(), key=lambda x: x["t"]), kinds, overdue, line,
                   run.kind, run.meta.get("source"), run.has_line)


def _line_conduct(run: Run, conduct: dict[str, Conduct],
                  incursions: dict[tuple[str, str], dict[str, Any]]
                  ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The :data:`LINE_FIGURES` of each party (set on ``conduct``), warnings before
    incursions (set on ``incursions``); the line's messages sent and counts by kind."""
    counts: dict[str, Counter[str]] = {p: Counter() for p in conduct}
    # warnings on the guard frequency, and whether the aircraft entered anyway
    warned: dict[tuple[str, str], dict[str, Any]] = {}
    for w in run.warnings:
        warned.setdefault((w["track"], w["zone"]), {"party": w["party"], "n": 0,
                                                    "first": w["t"]})
        warned[(w["track"], w["zone"])]["n"] += 1
    for wkey, w in warned.items():
        if w["party"] not in conduct:
            continue
        counts[w["party"]]["warnings_received"] += w["n"]
        hit = incursions.get(wkey)
        if hit is not None and hit.get("t_in", hit["t"]) >= w["first"]:
            counts[w["party"]]["warnings_ignored"] += 1
            hit["warnings_before"] = w["n"]
    # the line: requests and their responses (from the senders' logs)
    sent = [m for m in run.messages if m["direction"] == "sent"]
    requests = {m["message"]["id"]: m["message"] for m in sent
                if m["message"]["kind"] == "request"}
    responses: dict[str, float] = {}
    for m in sent:
        msg = m["message"]
        if msg["kind"] == "response" and msg.get("in_reply_to") in requests:
            rid = msg["in_reply_to"]
            responses[rid] = min(responses.get(rid, np.inf), float(msg["created_at"]))
    line: list[dict[str, Any]] = []
    for rid, req in requests.items():
        debtor = req["to"]
        if debtor not in conduct:
            continue
        counts[debtor]["requests_received"] += 1
        got = responses.get(rid)
        due = float(req["due_at"])
        if got is None:
            if run.meta["t1"] >= due:
                counts[debtor]["responses_never"] += 1
        elif got > due:
            counts[debtor]["responses_late"] += 1
        else:
            counts[debtor]["responses_on_time"] += 1
    kinds: dict[str, int] = defaultdict(int)
    for m in sent:
        msg = m["message"]
        kinds[msg["kind"]] += 1
        line.append({"t": float(msg["created_at"]), "from": msg["from"], "to": msg["to"],
                     "kind": msg["kind"], "id": msg["id"]})
    line.sort(key=lambda x: x["t"])
    # notices: intents filed (and announced) with their lead time
    leads: dict[str, list[float]] = defaultdict(list)
    for it in run.intents:
        if it["party"] not in conduct:
            continue
        if it["outcome"] == "accepted":
            counts[it["party"]]["intents_filed"] += 1
            lead = float(it["start"]) - float(it["t"])
            leads[it["party"]].append(lead)
            if lead < run.accord.notice_lead_time_s:
                counts[it["party"]]["notices_short"] += 1
        else:
            counts[it["party"]]["intents_refused"] += 1
    for m in sent:
        if m["message"]["kind"] == "notice" and m["message"]["from"] in conduct:
            counts[m["message"]["from"]]["notices_sent"] += 1
    for p, ls in leads.items():
        conduct[p].notice_lead_min_s = float(min(ls))
        conduct[p].notice_lead_mean_s = float(np.mean(ls))
    for p, c in conduct.items():
        for name in LINE_FIGURES:
            setattr(c, name, counts[p][name])
    return line, dict(kinds)


def _incursion_times(run: Run, incursions: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Seconds inside the zone, and the entry time, of each incursion (true tracks)."""
    import shapely

    from skyaccord.airspace.zones import load_zones_geojson

    path = run.path / "zones.geojson"
    if not incursions or not path.exists():
        return
    zones = {z.id: z for z in load_zones_geojson(path)}
    g = run.grid
    col = {i: k for k, i in enumerate(g.ids)}
    for (tid, zid), inc in incursions.items():
        z = zones.get(zid)
        k = col.get(tid)
        if z is None or k is None:
            continue
        ok = np.flatnonzero(np.isfinite(g.lat[:, k]))
        if ok.size < 2:
            continue
        # positions interpolated every second between the recorded samples
        tf = np.arange(g.t[ok[0]], g.t[ok[-1]] + 1e-9, 1.0)
        lat = np.interp(tf, g.t[ok], g.lat[ok, k])
        lon = np.interp(tf, g.t[ok], g.lon[ok, k])
        alt_ft = np.interp(tf, g.t[ok], g.z_m[ok, k]) / 0.3048
        inside = shapely.contains_xy(z.geometry, lon, lat) & (alt_ft >= z.lower_ft)
        inc["inside_s"] = float(inside.sum())
        if inside.any():
            inc["t_in"] = float(tf[np.flatnonzero(inside)[0]])
