"""The live picture: latest state, age, extrapolation, staleness, merging, party rules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from skyaccord.errors import FeedError
from skyaccord.picture import (
    Gates,
    PartyRules,
    Picture,
    StateBatch,
    StateUpdate,
    default_rules,
)


def su(t: float, tid: str, **kw: object) -> StateUpdate:
    base: dict[str, object] = dict(kind="state", lat=35.0, lon=36.0, alt_ft=20_000.0,
                                   gs_kt=360.0, trk_deg=90.0, vs_fpm=0.0)
    base.update(kw)
    return StateUpdate(t, tid, **base)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(lat=st.floats(-70, 70), lon=st.floats(-179, 179), trk=st.floats(0, 359.9),
       gs=st.floats(0, 1200), dt=st.floats(0, 60), vs=st.floats(-6000, 6000))
def test_extrapolation_matches_geodesic(lat: float, lon: float, trk: float, gs: float,
                                        dt: float, vs: float) -> None:
    p = Picture(max_age_s=120.0)
    p.update(su(100.0, "a", lat=lat, lon=lon, gs_kt=gs, trk_deg=trk, vs_fpm=vs))
    snap = p.snapshot(100.0 + dt)
    lon2, lat2, _ = Geod(ellps="WGS84").fwd(lon, lat, trk, gs * 1852 / 3600 * dt)
    # constant-track step on local radii of curvature against the geodesic: 0.1 % plus
    # the rhumb-line/geodesic offset d^2 tan(lat) / 2R, plus 1 m
    err = Geod(ellps="WGS84").inv(float(snap.lon[0]), float(snap.lat[0]), lon2, lat2)[2]
    d = gs * 1852 / 3600 * dt
    assert err <= 0.001 * d + d**2 * np.tan(np.radians(abs(lat) + 0.2)) / 6.3e6 + 1.0
    assert snap.alt_ft[0] == pytest.approx(20_000.0 + vs / 60 * dt)
    assert p.ages(100.0 + dt)[0] == pytest.approx(dt)


def test_latest_state_wins_and_old_reports_are_ignored() -> None:
    p = Picture()
    p.update(su(10.0, "a", lat=35.0))
    p.update(su(5.0, "a", lat=34.0))  # older: ignored
    assert p.stale == 1
    p.update(StateUpdate(12.0, "a", "velocity", gs_kt=100.0, trk_deg=0.0, vs_fpm=None))
    snap = p.snapshot(12.0)
    # position extrapolated 2 s from t=10 at the newest velocity (100 kt north)
    assert snap.lat[0] == pytest.approx(35.0 + 100 * 1852 / 3600 * 2 / 6_371_008.8 *
                                        180 / np.pi)
    assert snap.vs_fpm[0] == 0.0  # unknown vertical speed taken as level


def test_incomplete_tracks_wait_and_stale_tracks_go() -> None:
    p = Picture(max_age_s=30.0)
    p.update(StateUpdate(0.0, "pos-only", "position", lat=35.0, lon=36.0, alt_ft=1e4))
    p.update(su(0.0, "full"))
    p.update(su(25.0, "late"))
    assert "pos-only" not in p.snapshot(10.0).id.tolist()  # no velocity yet
    assert sorted(p.snapshot(29.0).id.tolist()) == ["full", "late"]
    assert p.snapshot(31.0).id.tolist() == ["late"]
    assert p.drop_stale(31.0) == 2
    assert p.track_ids() == ("late",)
    assert p.snapshot(31.0).id.tolist() == ["late"]
    with pytest.raises(FeedError, match="max_age_s"):
        Picture(max_age_s=0.0)


def test_two_sensors_same_icao_merge_into_one_track() -> None:
    p = Picture()
    p.update(su(0.0, "ae0001", source="us-radar", lat=35.0))
    p.update(su(1.0, "ae0001", source="ru-radar", lat=35.001))
    assert len(p) == 1
    assert p.sources("ae0001") == {"us-radar", "ru-radar"}
    assert p.snapshot(1.0).lat[0] == 35.001


def test_association_by_gates() -> None:
    p = Picture(gates=Gates(distance_nm=1.0, altitude_ft=500.0, speed_kt=50.0,
                            track_deg=20.0))
    p.update(su(0.0, "ae0001", source="adsb"))
    # a radar track number 0.5 NM away, same flight level, similar velocity: same aircraft
    near = su(10.0, "RU-T17", source="ru-radar", lon=36.0 + 0.5 / 60 / np.cos(
        np.radians(35.0)) + 360 * 10 / 3600 / 60 / np.cos(np.radians(35.0)))
    p.update(near)
    assert len(p) == 1 and p.merged == 1
    p.update(su(11.0, "RU-T17", source="ru-radar"))  # keeps joining under its alias
    assert len(p) == 1
    # outside each gate in turn: new tracks
    p.update(su(10.0, "far", lon=36.2))
    p.update(su(10.0, "high", alt_ft=21_000.0, lon=36.05))
    p.update(su(10.0, "slow", gs_kt=250.0, lon=36.05))
    p.update(su(10.0, "turned", trk_deg=150.0, lon=36.05))
    assert len(p) == 5 and p.merged == 1
    q = Picture(gates=None)
    q.update(su(0.0, "a"))
    q.update(su(0.0, "b"))
    assert len(q) == 2


def test_party_and_class_rules() -> None:
    rules = PartyRules.from_dict({
        "default_party": "civil-world", "default_class": "civil",
        "icao_blocks": [{"first": "100000", "last": "1fffff", "party": "ru"}],
        "callsigns": [{"prefix": "RCH", "party": "us", "class": "manned"}],
        "squawks": [{"code": "7400", "party": "us", "class": "unmanned"}],
    })
    assert rules.assign("150000", None, None) == ("ru", "civil")
    assert rules.assign("150000", "RCH123", None) == ("us", "manned")
    assert rules.assign("a00001", None, "7400") == ("us", "unmanned")
    assert rules.assign("zzz", None, None) == ("civil-world", "civil")
    p = Picture(rules=rules)
    p.update(su(0.0, "150000"))
    p.update(su(0.0, "labelled", lon=37.0, party="tr", aircraft_class="manned"))
    p.update(StateUpdate(1.0, "150000", "identity", callsign="RCH123"))
    snap = p.snapshot(1.0)
    got = dict(zip(snap.id.tolist(), zip(snap.party.tolist(), snap.aircraft_class.tolist(),
                                         strict=True), strict=True))
    assert got == {"150000": ("us", "manned"), "labelled": ("tr", "manned")}
    with pytest.raises(FeedError, match="lacks the key 'party'"):
        PartyRules.from_dict({"callsigns": [{"prefix": "X"}]})
    with pytest.raises(FeedError, match="bad ICAO address"):
        PartyRules.from_dict({"icao_blocks": [{"first": "xyz", "last": "1", "party": "a"}]})
    assert default_rules().assign("ae5555", None, None) == ("us", "manned")


def test_snapshot_feeds_detection() -> None:
    from skyaccord.protocol import default_accord
    from skyaccord.tactical import detect

    p = Picture()
    p.update(su(0.0, "ae0001", lon=36.0, trk_deg=90.0))
    p.update(su(0.0, "150001", lon=36.5, trk_deg=270.0))
    snap = p.snapshot(5.0)
    c = detect(snap, default_accord())
    assert len(c) == 1 and not bool(c.same_party[0])


def test_the_picture_does_not_import_the_feed_readers() -> None:
    """ingest imports picture (replay), so picture must not import ingest: no cycle."""
    code = ("import sys, skyaccord.picture; "
            "print(sorted(m for m in sys.modules if m.startswith('skyaccord.ingest')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    from skyaccord.ingest.states import StateUpdate as ReadersStateUpdate
    assert ReadersStateUpdate is StateUpdate


# -- a batch as columns is the same as its reports one by one ------------------------------

def _random_reports(rng: np.random.Generator, n: int, ids: list[str],
                    t0: float) -> list[StateUpdate]:
    """Reports of a few aircraft near one another (so that the gates join some), any
    part missing, times going back as well as forward, ids repeated, some on the ground."""
    out = []
    for _ in range(n):
        tid = ids[int(rng.integers(len(ids)))]
        kind = str(rng.choice(["state", "state", "position", "velocity", "altitude",
                               "identity", "ground"]))
        t = t0 + float(rng.choice([rng.uniform(-20, 20), rng.integers(-3, 4)]))  # ties too
        has = {"pos": kind in ("state", "position") or rng.random() < 0.1,
               "alt": kind in ("state", "position", "altitude") and rng.random() < 0.9,
               "vel": kind in ("state", "velocity") or rng.random() < 0.1}
        base = int(rng.integers(3))  # three aircraft: reports of one fall in its gates
        out.append(StateUpdate(
            t, tid, kind,
            callsign=str(rng.choice(["RFF1", "AAL2", ""])) if rng.random() < 0.3 else None,
            lat=35.0 + 0.1 * base + rng.normal(0, 0.004) if has["pos"] else None,
            lon=36.0 + rng.normal(0, 0.004) if has["pos"] else None,
            alt_ft=20_000.0 + 3_000 * base + rng.normal(0, 150) if has["alt"] else None,
            gs_kt=400.0 + rng.normal(0, 15) if has["vel"] else None,
            trk_deg=90.0 + 40 * base + rng.normal(0, 5) if has["vel"] else None,
            vs_fpm=(float(rng.normal(0, 500)) if rng.random() < 0.7 else None)
            if has["vel"] or rng.random() < 0.1 else None,
            squawk=str(rng.choice(["7400", "1200"])) if rng.random() < 0.2 else None,
            party=str(rng.choice(["us", "ru", ""])) if rng.random() < 0.3 else None,
            aircraft_class=str(rng.choice(["manned", "civil"])) if rng.random() < 0.3
            else None,
            source=str(rng.choice(["radar-a", "radar-b", ""]))))
    return out


def _same_picture(p: Picture, q: Picture, t: float) -> None:
    assert p.ids == q.ids and p.index == q.index and p.alias == q.alias
    assert (p.updates, p.stale, p.merged) == (q.updates, q.stale, q.merged)
    assert [p.said(i) for i in p.ids] == [q.said(i) for i in q.ids]
    assert [p.sources(i) for i in p.ids] == [q.sources(i) for i in q.ids]
    for c in ("t_seen", "t_pos", "lat", "lon", "alt_ft", "t_vel", "gs_kt", "trk_deg",
              "vs_fpm", "t_gnd"):
        np.testing.assert_array_equal(p.column(c), q.column(c), err_msg=c)
    a, b = p.snapshot(t), q.snapshot(t)
    for c in ("id", "party", "aircraft_class", "lat", "lon", "alt_ft", "gs_kt", "trk_deg",
              "vs_fpm"):
        np.testing.assert_array_equal(getattr(a, c), getattr(b, c), err_msg=c)


@pytest.mark.parametrize("associate", [False, True])
@pytest.mark.parametrize("seed", range(25))
def test_batch_applies_as_reports_one_by_one(seed: int, associate: bool) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"{rng.integers(0x100000, 0xafffff):06x}" for _ in range(12)] + ["T1", "T2"]
    one, many = Picture(max_age_s=30.0), Picture(max_age_s=30.0)
    for step in range(4):  # the first batch makes tracks, the next meet them
        reports = _random_reports(rng, int(rng.integers(1, 80)), ids, 100.0 + 10 * step)
        for u in reports:
            one.update(u, associate=associate)
        batch = StateBatch.of(reports)
        assert batch is not None
        rows = many.update_batch(batch, associate=associate)
        assert [many.ids[i] for i in rows.tolist()] == [
            one.alias.get(u.icao24, u.icao24) for u in reports]
        _same_picture(one, many, 100.0 + 10 * step + 5.0)
        if step == 2:
            assert one.drop_stale(128.0) == many.drop_stale(128.0)
    assert one.stale > 0  # the inputs did hold old reports
    if associate:
        assert one.merged == many.merged


def test_update_many_is_update_one_by_one_even_with_nan() -> None:
    reports = [su(5.0, "a"), su(3.0, "a", lat=36.0), su(4.0, "b", lat=float("nan"))]
    one, many = Picture(), Picture()
    for u in reports:
        one.update(u)
    assert StateBatch.of(reports) is None  # a NaN a batch would read as "absent"
    many.update_many(reports)
    _same_picture(one, many, 6.0)
    many.update_many(iter([su(7.0, "a", lat=35.5)]))
    assert many.column("lat")[0] == 35.5 and many.stale == one.stale == 1
