"""A scenario run: one party's node per party, driven through the node's own API.

Each party gets a real node (:func:`skyaccord.node.service.open_node`: its line log,
keys, tokens, zones, the shared intents registry) on a simulated clock, in this process
or as a process of its own on loopback (:mod:`skyaccord.sim.nodes`): every simulated
step posts the surveillance picture to ``POST /tracks`` of each node, runs the node's
tick (:meth:`NodeRuntime.tick`, what its ticker thread does), and delivers each outbox
through the peer's ``POST /line/messages`` route, so messages are signed, acknowledged,
hash-chained and refused exactly as between real nodes. The steps are the same either
way, in the same order (a node's operators read its alerts in the order of their keys),
so both give the same records. Intents are filed with ``POST /intents`` and
announced with a ``notice`` on the line; the parties' scripted operators ask
(``request``) when one of their aircraft reaches the party's ``request_level`` against
another party's, answer requests after a delay drawn from the scenario (or never, so
the overdue list fills), and warn intruders into their zones on the guard frequencies.

Everything is recorded in the run directory (see :data:`RUN_FILES`); ``skyaccord report``
reads it. A run is deterministic for a seed: keys, start jitter, delays and failures are
drawn from :class:`numpy.random.SeedSequence` streams of the seed; only message ids
(random UUIDs of the line) differ between runs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from nacl.signing import SigningKey

from skyaccord.analysis.rundata import TRACK_COLUMNS, write_tracks
from skyaccord.errors import InputError, SkyaccordError
from skyaccord.geo import FT, NM, LocalPlane
from skyaccord.protocol import Accord, accord_from_dict, default_accord, load_accord
from skyaccord.sim.kinematics import Fleet, FlightPlan, plans
from skyaccord.sim.node_process import SimClock
from skyaccord.sim.nodes import LocalNode, ProcessNode, ProcessNodes, Response, free_ports
from skyaccord.sim.scenario import Scenario, load_scenario
from skyaccord.sim.toml_out import accord_toml

__all__ = ["RUN_FILES", "RunResult", "SimClock", "accord_variant", "read_scenario",
           "run_scenario", "theatre_box", "window_text"]

#: what a run directory holds
RUN_FILES = {
    "run.json": "what ran: scenario, seed, window, parties, aircraft, accord hash, timings",
    "scenario.yaml": "the scenario file as read",
    "accord.toml": "the accord the nodes ran (with the run's public keys)",
    "tracks.npz": "every aircraft's true state at every step (columns)",
    "tracks.csv": "the same as a tracks CSV with times (skyaccord replay --format tracks)",
    "alerts.jsonl": "each node's alerts as they appeared, changed and cleared",
    "messages.jsonl": "each node's line log: messages, acknowledgements, checkpoints",
    "intents.jsonl": "intents filed, with the registry's answer",
    "warnings.jsonl": "warnings on the guard frequencies",
    "operators.jsonl": "the scripted operators' requests and answers",
    "overdue.json": "each node's overdue list at the end",
}


def _key(seed: int, party: str) -> SigningKey:
    """A party's Ed25519 key, derived from the run's seed (runs are reproducible)."""
    return SigningKey(hashlib.sha256(f"skyaccord-sim\0{seed}\0{party}".encode()).digest())


def accord_variant(base: Accord, *, separation_nm: float | None = None,
                   response_deadline_s: float | None = None) -> Accord:
    """``base`` with every horizontal minimum of 3 NM or more set to ``separation_nm``
    (the accord's "safe distance") and/or another response deadline: what a sweep
    varies. The result is checked like any accord file."""
    tree = base.to_dict()
    if separation_nm is not None:
        for rule in tree["separation"]:
            if float(rule["horizontal_nm"]) >= 3.0:
                rule["horizontal_nm"] = float(separation_nm)
    if response_deadline_s is not None:
        tree["communications"]["response_deadline_s"] = float(response_deadline_s)
    return accord_from_dict(tree, f"{base.id} (variant)")


@dataclass
class _Party:
    """A party in the run: its node (in this process or not) and its operators' state."""

    party: str
    node: LocalNode | ProcessNode
    rng: np.random.Generator
    asked: set[tuple[str, str]] = field(default_factory=set)
    answers: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    warned: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    async def call(self, method: str, path: str, *, json_body: Any = None,
                   content: bytes | None = None) -> Response:
        """The node's API with the run's operator token; a 5xx stops the run."""
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
        r = await self.node.request(method, path, {"content-type": "application/json"},
                                    content or b"")
        if r.status_code >= 500:
            raise SkyaccordError(f"node {self.party}: {method} {path}: {r.status_code} "
                                 f"{r.text[:300]}")
        return r


@dataclass
class RunResult:
    """What a run did, in figures (the report has the rest)."""

    out: Path
    t0: float
    t1: float
    wall_s: float
    steps: int
    aircraft: int
    alerts: dict[str, int]
    messages: int
    overdue: int
    intents: dict[str, int]
    warnings: int
    plans: list[FlightPlan] = field(default_factory=list, repr=False)

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall-clock second."""
        return (self.t1 - self.t0) / max(self.wall_s, 1e-9)


class _Recorder:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.files = {name: (out / name).open("w", encoding="utf-8") for name in (
            "alerts.jsonl", "intents.jsonl", "warnings.jsonl", "operators.jsonl")}
        self.cols: dict[str, list[Any]] = {k: [] for k in TRACK_COLUMNS}

    def write(self, name: str, item: dict[str, Any]) -> None:
        self.files[name].write(json.dumps(item, separators=(",", ":")) + "\n")

    def close(self, fleet_plans: list[FlightPlan]) -> None:
        for f in self.files.values():
            f.close()
        arrays = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in self.cols.items()}
        # tracks.npz and tracks.csv, written as a replay's record writes them
        write_tracks(self.out, arrays,
                     [(pl.id, pl.party, pl.aircraft_class) for pl in fleet_plans])


def _intent_body(plan: FlightPlan, count: int, plane: LocalPlane, cruise_m_s: float,
                 notice_t: float) -> tuple[dict[str, Any], float, float]:
    """An intent for a mission: one corridor volume (legs buffered 3 NM) per leg of at
    most 60 km, windows from the cruise speed, the racetrack held until its time."""
    import shapely

    pts = np.vstack([np.array(plan.start)[None, :], plan.points])
    t = plan.t_start
    trail = (count - 1) * 2.0 * NM / cruise_m_s
    vols = []
    t_end = t
    for k in range(len(pts) - 1):
        a, b = pts[k], pts[k + 1]
        length = float(np.hypot(*(b[:2] - a[:2])))
        pieces = max(1, math.ceil(length / 60_000.0))
        for j in range(pieces):
            p0 = a + (b - a) * (j / pieces)
            p1 = a + (b - a) * ((j + 1) / pieces)
            dt = length / pieces / cruise_m_s
            t1 = t + dt
            if plan.loop is not None and plan.loop[0] <= k + 1 <= plan.loop[1] + 1:
                t1 = max(t1, plan.loop[2])
            line = shapely.LineString([tuple(p0[:2]), tuple(p1[:2])])
            poly = shapely.simplify(line.buffer(3 * NM, quad_segs=4), 200.0)
            xy = np.asarray(poly.exterior.coords)
            lat, lon = plane.inverse(xy[:, 0], xy[:, 1])
            lo = min(p0[2], p1[2]) / FT - 1000.0
            hi = max(p0[2], p1[2]) / FT + 1000.0
            vols.append({"polygon": [[round(float(x), 5), round(float(y), 5)]
                                     for x, y in zip(lon, lat, strict=True)],
                         "alt": [max(0.0, lo), hi],
                         "time": [t - 120.0, t1 + trail + 300.0]})
            t = t1
            t_end = t1 + trail
    return ({"id": plan.mission, "class": plan.aircraft_class, "volumes": vols[:1000],
             "request_id": f"{plan.mission}-{int(notice_t)}"}, plan.t_start, t_end)


def run_scenario(scenario: Scenario | str | Path, out: str | Path, *, seed: int | None = None,
                 speed: float | None = None, window: tuple[float, float] | None = None,
                 accord: Accord | None = None, overwrite: bool = False,
                 progress: Callable[[float, float], None] | None = None,
                 on_ready: Callable[[dict[str, Any]], None] | None = None,
                 processes: bool = False) -> RunResult:
    """Run ``scenario`` into the directory ``out`` and return its figures.

    ``seed`` defaults to the scenario's; ``speed`` paces the run at that many simulated
    seconds per wall second (None: as fast as it goes); ``window`` (UTC seconds) runs
    part of the day (aircraft are flown from the scenario's start regardless);
    ``accord`` replaces the scenario's; ``progress(done, total)`` is called each step;
    ``on_ready`` gets the nodes (party → :class:`~skyaccord.node.service.OpenNode`) once
    they run (``demo --serve`` uses it). ``processes``: one node process per party on
    loopback, driven over real HTTP (:mod:`skyaccord.sim.nodes`); ``on_ready`` then gets
    their :class:`~skyaccord.sim.nodes.ProcessNode` (pid, url). They are stopped when
    the run ends, however it ends.
    """
    src: Path | None = None
    if not isinstance(scenario, Scenario):
        src = Path(scenario)
        scenario = read_scenario(src)
    s = scenario
    seed = s.seed if seed is None else seed
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"{out}: exists and is not empty; choose a new run directory")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if accord is None:
        if s.accord is not None:
            base_dir = src.parent if src is not None else Path.cwd()
            accord = load_accord(base_dir / s.accord)
        else:
            accord = default_accord()
    t_start, t_end = s.t_start, s.t_end
    t0, t1 = window if window is not None else (t_start, t_end)
    if not (t_start <= t0 < t1 <= t_end):
        raise InputError(f"window must lie within the scenario's {s.start}-{s.end}")
    parties = sorted(p.id for p in accord.parties)
    for name in s.parties:
        if name not in parties:
            raise InputError(f"scenario {s.name!r}: party {name!r} is not a party of accord "
                             f"{accord.id!r} ({', '.join(parties)})")
    keys = {p: _key(seed, p) for p in parties}
    tree = accord.to_dict()
    from skyaccord.line.keys import public_key_b64

    for entry in tree["parties"]:
        entry["public_key"] = public_key_b64(keys[entry["id"]])
    accord = accord_from_dict(tree, "run accord")
    (out / "accord.toml").write_text(accord_toml(accord), encoding="utf-8")
    if src is not None:
        shutil.copyfile(src, out / "scenario.yaml")
    else:
        import yaml

        (out / "scenario.yaml").write_text(
            yaml.safe_dump(s.model_dump(mode="json", by_alias=True), sort_keys=False))
    _write_zones(s, accord, out / "zones.geojson")
    wall0 = time.perf_counter()
    result = asyncio.run(_run(s, accord, out, seed, keys, parties, t0, t1, speed, progress,
                              on_ready, processes))
    wall = time.perf_counter() - wall0
    result.wall_s = wall
    meta = {"scenario": s.name, "seed": seed,
            "nodes": "processes" if processes else "in-process", "t0": t0, "t1": t1,
            "step_s": s.step_s,
            "date": s.date.isoformat(), "centre": list(s.centre), "parties": parties,
            "accord": {"id": accord.id, "sha256": accord.sha256,
                       "response_deadline_s": accord.response_deadline_s},
            "wall_s": wall, "steps": result.steps,
            "aircraft": [{"id": pl.id, "party": pl.party, "class": pl.aircraft_class,
                          "type": pl.type, "mission": pl.mission, "callsign": pl.callsign,
                          "t_start": pl.t_start} for pl in result.plans]}
    (out / "run.json").write_text(json.dumps(meta, indent=1))
    return result


def theatre_box(s: Scenario, margin_deg: float = 1.5) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max): the scenario's places and centre, widened."""
    lats = [p.lat for p in s.places.values()] + [s.centre[0]]
    lons = [p.lon for p in s.places.values()] + [s.centre[1]]
    return (min(lons) - margin_deg, min(lats) - margin_deg, max(lons) + margin_deg,
            max(lats) + margin_deg)


def _write_zones(s: Scenario, accord: Accord, path: Path) -> None:
    """The shipped borders of the accord's parties cut to the theatre (what the nodes
    watch): the same lines near the theatre, a tenth of the vertices of a whole
    country, so that each tick's incursion prediction projects less."""
    path.write_text(_zones_text(theatre_box(s), frozenset(p.id for p in accord.parties)))


@functools.lru_cache(maxsize=8)
def _zones_text(box_deg: tuple[float, float, float, float], parties: frozenset[str]) -> str:
    """The zones file's text (the same for every run of a sweep: made once a process)."""
    import shapely

    from skyaccord.airspace.zones import theatre_borders

    box = shapely.box(*box_deg)
    features = []
    for z in theatre_borders():
        if z.owner not in parties:
            continue
        cut = shapely.intersection(z.geometry, box)
        if cut.is_empty:
            continue
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(cut),
                         "properties": {"id": z.id, "name": z.name, "owner": z.owner,
                                        "kind": z.kind, "lower_ft": z.lower_ft}})
    return json.dumps({"type": "FeatureCollection", "features": features})


_SCENARIOS: dict[tuple[str, int, int], Scenario] = {}


def read_scenario(path: Path) -> Scenario:
    """:func:`load_scenario`, kept for the process while the file is unchanged (a
    sweep's runs read one file hundreds of times; a run never changes its scenario)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _SCENARIOS:
        _SCENARIOS.clear()
        _SCENARIOS[key] = load_scenario(path)
    return _SCENARIOS[key]


async def _run(s: Scenario, accord: Accord, out: Path, seed: int,
               keys: dict[str, SigningKey], parties: list[str], t0: float, t1: float,
               speed: float | None, progress: Callable[[float, float], None] | None,
               on_ready: Callable[[dict[str, Any]], None] | None,
               processes: bool) -> RunResult:
    from base64 import b64encode

    from skyaccord.node.auth import Role, TokenStore
    from skyaccord.node.config import NodeSettings, write_owner_only
    from skyaccord.node.service import open_node

    loop = asyncio.get_running_loop()
    plane = LocalPlane(*s.centre)
    fleet_plans = plans(s, plane, seed)
    fleet = Fleet(fleet_plans, wind_from_deg=s.wind.from_deg if s.wind else 0.0,
                  wind_kt=s.wind.speed_kt if s.wind else 0.0)
    fleet.advance(s.t_start)
    clock = SimClock(t0)
    nodes_dir = out / "nodes"
    nodes_dir.mkdir()
    rec = _Recorder(out)
    actors: dict[str, _Party] = {}
    spawned = ProcessNodes()
    wall0 = time.perf_counter()
    steps = 0
    counts: dict[str, int] = {}
    filed: dict[str, int] = {}
    warnings_n = 0
    n_over = n_msgs = 0
    failed = True
    ports = free_ports(len(parties)) if processes else [8701 + k for k in range(len(parties))]
    try:
        for k, p in enumerate(parties):
            kf = nodes_dir / f"{p}.key"
            write_owner_only(kf, b64encode(bytes(keys[p])).decode() + "\n")
            tokens_file = nodes_dir / f"{p}-tokens.json"
            tokens = TokenStore(tokens_file)
            token, _ = tokens.create("sim", Role.OPERATOR)
            seq = np.random.SeedSequence([seed, 2, k])
            if processes:
                admin, _ = tokens.create("sim-admin", Role.ADMIN)
                settings = {"party": p, "key": str(kf), "db": str(nodes_dir / f"{p}.db"),
                            "port": ports[k], "registry": str(out / "registry.db"),
                            "accord": str(out / "accord.toml"), "tick_s": s.step_s,
                            "max_track_age_s": max(60.0, 3.0 * s.step_s),
                            "tokens": str(tokens_file), "borders": False,
                            "zones": str(out / "zones.geojson"),
                            "peers": {q: f"http://127.0.0.1:{ports[j]}"
                                      for j, q in enumerate(parties) if q != p}}
                node: LocalNode | ProcessNode = spawned.start(
                    p, settings, ports[k], t0, token, admin, nodes_dir)
            else:
                # no peers at opening (each would make an HTTP client and its TLS
                # context for nothing): they are the peers' apps, connected below
                local = open_node(NodeSettings(
                    party=p, key=kf, db=nodes_dir / f"{p}.db", port=ports[k],
                    registry=str(out / "registry.db"), accord=out / "accord.toml",
                    tick_s=s.step_s, max_track_age_s=max(60.0, 3.0 * s.step_s),
                    tokens=tokens_file, borders=False, zones=out / "zones.geojson"),
                    clock=clock)
                node = LocalNode(p, local, clock, token)
            actors[p] = _Party(p, node, np.random.default_rng(seq))
        if processes:
            await spawned.wait_ready()
        else:
            local_nodes = {p: a.node for p, a in actors.items()
                           if isinstance(a.node, LocalNode)}
            for n in local_nodes.values():
                n.connect(local_nodes, loop)
        if on_ready is not None:
            on_ready({p: (a.node.node if isinstance(a.node, LocalNode) else a.node)
                      for p, a in actors.items()})
        warning = (accord.warning_count or 10, accord.warning_window_s or 300.0)
        # the nodes' alert levels by rank (rank 0: no level), as the tactical engine
        # names them
        levels = ("none", *(lv.name for lv in accord.levels))
        # intents in the order they are due (those due before the window: at its start)
        filings = _filings(s, fleet_plans, t0)
        fi = 0
        cruise = {pl.id: float(fleet.cruise[i]) for i, pl in enumerate(fleet_plans)}
        mission_count: dict[str, int] = {}
        for pl in fleet_plans:
            mission_count[pl.mission] = mission_count.get(pl.mission, 0) + 1
        fleet.advance(t0)
        t = t0
        total = t1 - t0
        nodes = [a.node for a in actors.values()]
        while t <= t1 + 1e-9:
            clock.t = t
            if processes:
                await asyncio.gather(*(n.set_clock(t) for n in nodes))
            while fi < len(filings) and filings[fi][0] <= t:
                pl = filings[fi][1]
                outcome = await _file_intent(actors[pl.party], t, pl,
                                             mission_count[pl.mission], plane, cruise[pl.id],
                                             rec, parties)
                filed[outcome] = filed.get(outcome, 0) + 1
                fi += 1
            st = fleet.states()
            if len(st.rows):
                lat, lon = plane.inverse(st.x_m, st.y_m)
                _record_tracks(rec, t, st, lat, lon)
                body = _track_rows(fleet_plans, st, lat, lon, t)
                # every node's picture (separate processes: at once)
                if processes:
                    answers = await asyncio.gather(*(a.call("POST", "/tracks", content=body)
                                                     for a in actors.values()))
                else:
                    answers = [await a.call("POST", "/tracks", content=body)
                               for a in actors.values()]
                for a, r in zip(actors.values(), answers, strict=True):
                    if r.status_code != 200:
                        raise SkyaccordError(f"node {a.party} refused tracks: {r.text[:300]}")
            ticks = (await asyncio.gather(*(n.tick(t) for n in nodes)) if processes
                     else [await n.tick(t) for n in nodes])
            for p, tick in zip(actors, ticks, strict=True):
                _record_tick(p, tick, rec, counts)
            for a, tick in zip(actors.values(), ticks, strict=True):
                busy = bool(tick["conflicts"] or tick["incursions"])
                warnings_n += await _operate(a, t, s, rec, warning, actors, busy, levels)
            await _deliver_all(actors)
            steps += 1
            if progress is not None:
                progress(t - t0, total)
            if speed is not None and speed > 0:
                lag = (t - t0) / speed - (time.perf_counter() - wall0)
                if lag > 0:
                    await asyncio.sleep(lag)
            t += s.step_s
            fleet.advance(min(t, t1 + s.step_s))
        clock.t = t1
        if processes:
            await asyncio.gather(*(n.set_clock(t1) for n in nodes))
        overdue: dict[str, Any] = {}
        for p, a in actors.items():
            items = (await a.call("GET", "/line/overdue")).json()
            overdue[p] = items
            n_over += sum(1 for d in items if d["late_s"] >= 0)
        (out / "overdue.json").write_text(json.dumps(overdue, indent=1))
        n_msgs = await _dump_messages(out, actors)
        failed = False
    finally:
        try:
            if processes:
                await spawned.close(failed=failed)
            elif on_ready is None:  # else whoever got the nodes (a server) closes them
                for a in actors.values():
                    await a.node.close()
        finally:
            rec.close(fleet_plans)
    return RunResult(out, t0, t1, time.perf_counter() - wall0, steps, len(fleet_plans),
                     counts, n_msgs, n_over, filed, warnings_n, fleet_plans)


async def _deliver_all(actors: dict[str, _Party]) -> None:
    """Each node's outbox to its peers (the deliverer's work, while the peers serve
    their routes), then once more for what that caused."""
    for _ in range(2):
        for a in actors.values():
            await a.node.deliver()


def _filings(s: Scenario, fleet_plans: list[FlightPlan], t0: float
             ) -> list[tuple[float, FlightPlan]]:
    """(time due, first aircraft of the mission) of each intent, in time order."""
    seen: set[str] = set()
    out = []
    for pl in fleet_plans:
        if not pl.intent or pl.mission in seen:
            continue
        seen.add(pl.mission)
        notice = pl.notice_s if pl.notice_s is not None else s.conduct(pl.party).notice_s
        t_file = pl.t_start - notice
        if pl.t_start < t0:
            continue  # flying already when the window opens
        out.append((t_file, pl))
    out.sort(key=lambda x: (x[0], x[1].mission))
    return out


async def _file_intent(a: _Party, now: float, pl: FlightPlan, count: int, plane: LocalPlane,
                       cruise: float, rec: _Recorder, parties: list[str]) -> str:
    """File the mission's intent (``POST /intents``) and give notice on the line."""
    body, start, end = _intent_body(pl, count, plane, cruise, now)
    r = await a.call("POST", "/intents", json_body=body)
    outcome = "accepted" if r.status_code == 200 else (
        "refused" if r.status_code == 409 else "invalid")
    detail = r.json()
    rec.write("intents.jsonl", {"t": now, "party": a.party, "mission": pl.mission,
                                "start": start, "end": end, "status": r.status_code,
                                "outcome": outcome, "volumes": len(body["volumes"]),
                                "detail": detail if r.status_code != 200 else None})
    if outcome == "accepted":
        for q in parties:
            if q != a.party:
                await a.call("POST", "/line/send", json_body={
                    "to": q, "kind": "notice",
                    "body": {"start_s": start, "end_s": end, "intent_ids": [pl.mission],
                             "text": f"{pl.mission}: {count} x {pl.type} from "
                                     f"{_hhmm(start)} to {_hhmm(end)} UTC"}})
    return outcome


def _hhmm(t: float) -> str:
    return time.strftime("%H:%M", time.gmtime(t))


def _record_tracks(rec: _Recorder, t: float, st: Any, lat: Any, lon: Any) -> None:
    c = rec.cols
    c["t"].append(np.full(len(st.rows), t))
    c["row"].append(st.rows.astype(np.int32))
    for name, v in (("x_m", st.x_m), ("y_m", st.y_m), ("lat", lat), ("lon", lon),
                    ("alt_ft", st.alt_ft), ("gs_kt", st.gs_kt), ("trk_deg", st.trk_deg),
                    ("vs_fpm", st.vs_fpm)):
        c[name].append(np.asarray(v, dtype=float))


def _track_rows(fleet_plans: list[FlightPlan], st: Any, lat: Any, lon: Any, t: float
                ) -> bytes:
    rows = []
    for k, i in enumerate(st.rows.tolist()):
        pl = fleet_plans[i]
        rows.append({"id": pl.id, "party": pl.party, "class": pl.aircraft_class,
                     "lat": round(float(lat[k]), 6), "lon": round(float(lon[k]), 6),
                     "alt_ft": round(float(st.alt_ft[k]), 1),
                     "gs_kt": round(float(st.gs_kt[k]), 1),
                     "trk_deg": round(float(st.trk_deg[k]), 2),
                     "vs_fpm": round(float(st.vs_fpm[k]), 0), "t": t,
                     "callsign": pl.callsign[:16]})
    return json.dumps({"tracks": rows}, separators=(",", ":")).encode()


def _record_tick(party: str, tick: dict[str, Any], rec: _Recorder,
                 counts: dict[str, int]) -> None:
    """A node's tick: the alerts that appeared, changed and cleared."""
    t = tick["t"]
    for change in ("new", "changed"):
        for a in tick[change]:
            rec.write("alerts.jsonl", {"node": party, "t": t, "change": change, **a})
            if change == "new":
                counts[a["level"]] = counts.get(a["level"], 0) + 1
    for key in tick["cleared"]:
        rec.write("alerts.jsonl", {"node": party, "t": t, "change": "cleared", "key": key})


async def _operate(a: _Party, t: float, s: Scenario, rec: _Recorder,
                   warning: tuple[int, float], actors: dict[str, _Party], busy: bool,
                   levels: tuple[str, ...]) -> int:
    """The party's scripted operators at ``t``: ask, answer, warn. Returns warnings.

    ``busy``: the node's last tick found conflicts or incursions (its alerts are read,
    in the order of their keys, only then)."""
    conduct = s.conduct(a.party)
    warned = 0
    alerts = sorted(await a.node.alerts(), key=lambda al: al["key"]) if busy else []
    # ask the other party to act on a conflict at the party's request level
    if conduct.request_level is not None and conduct.request_level in levels:
        floor = levels.index(conduct.request_level)
        for al in alerts:
            if al["type"] != "conflict" or al["rank"] < floor:
                continue
            p1, p2 = al["party1"], al["party2"]
            if a.party not in (p1, p2) or p1 == p2:
                continue
            other = p2 if p1 == a.party else p1
            if other not in actors:
                continue
            pair = (al["id1"], al["id2"])
            if pair in a.asked:
                continue
            a.asked.add(pair)
            r = await a.call("POST", "/line/send", json_body={
                "to": other, "kind": "request",
                "body": {"subject": f"conflict {pair[0]}/{pair[1]}",
                         "text": f"{al['level']}: {pair[0]} and {pair[1]} lose separation in "
                                 f"{al['t_in_s']:.0f} s; alter course or confirm intentions"}})
            rec.write("operators.jsonl", {"t": t, "party": a.party, "action": "request",
                                          "to": other, "pair": list(pair),
                                          "status": r.status_code,
                                          "id": r.json().get("id")})
    # answer requests received: after a drawn delay, or never
    for entry in await a.node.new_requests():
        lo, hi = conduct.respond_delay_s
        delay = float(a.rng.uniform(lo, hi))
        answers = bool(a.rng.random() < conduct.respond_probability)
        rec.write("operators.jsonl", {"t": t, "party": a.party, "action": "received",
                                      "id": entry["id"], "from": entry["from"],
                                      "will_answer": answers, "delay_s": delay})
        if answers:
            a.answers.append((t + delay, entry))
    due = [x for x in a.answers if x[0] <= t]
    a.answers = [x for x in a.answers if x[0] > t]
    for _, entry in due:
        r = await a.call("POST", "/line/send", json_body={
            "to": entry["from"], "kind": "response", "in_reply_to": entry["id"],
            "body": {"decision": "accept", "text": "acknowledged; acting"}})
        rec.write("operators.jsonl", {"t": t, "party": a.party, "action": "response",
                                      "to": entry["from"], "in_reply_to": entry["id"],
                                      "status": r.status_code})
    # warn intruders into our zones: the accord's sequence (count within the window)
    if conduct.guard_warnings:
        count, window = warning
        gap = window / count
        for al in alerts:
            if al["type"] != "incursion" or al["owner"] != a.party or al["party"] == a.party:
                continue
            key = (al["id"], al["zone"])
            n, last = a.warned.get(key, (0, -math.inf))
            if n >= count or t - last < gap - 1e-9:
                continue
            if n == 0 and al["party"] in actors:
                where = "is inside" if al["t_entry_s"] == 0 else "will enter"
                # and ask the intruder's party, over the line, to turn it away
                r = await a.call("POST", "/line/send", json_body={
                    "to": al["party"], "kind": "request",
                    "body": {"subject": f"airspace {al['id']}/{al['zone']}",
                             "text": f"{al['id']} {where} {al['zone']} airspace; turn "
                                     "away now"}})
                rec.write("operators.jsonl", {"t": t, "party": a.party, "action": "request",
                                              "to": al["party"], "pair": list(key),
                                              "status": r.status_code,
                                              "id": r.json().get("id")})
            a.warned[key] = (n + 1, t)
            rec.write("warnings.jsonl", {"t": t, "by": a.party, "track": al["id"],
                                         "party": al["party"], "zone": al["zone"],
                                         "n": n + 1, "level": al["level"],
                                         "t_entry_s": al["t_entry_s"]})
            warned += 1
    return warned


async def _dump_messages(out: Path, actors: dict[str, _Party]) -> int:
    """Each node's line log (messages, acknowledgements, checkpoints) into the run."""
    n = 0
    with (out / "messages.jsonl").open("w", encoding="utf-8") as f:
        for p, a in actors.items():
            for entry in await a.node.log():
                f.write(json.dumps({"node": p, **entry}, separators=(",", ":")) + "\n")
                n += 1
    return n


def window_text(t0: float, t1: float) -> str:
    """``24 Nov 2015 06:45–08:15``: a run's window for people."""
    return f"{time.strftime('%d %b %Y %H:%M', time.gmtime(t0))}–{_hhmm(t1)}"
