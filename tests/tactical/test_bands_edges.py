"""Bands at the edges the mutation run found untested: the settings' limits and messages,
band names, the colours' dtype and batching, the preferred resolution across 0°/360°
and at exactly 180°, the advice's fields and ``advise``'s arguments. Each test names the
mutations it kills (mutmut names of the bands group, tests/mutation/README.md); expected
values are worked by hand."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

from skyaccord.errors import InputError, TrackDataError
from skyaccord.protocol import default_accord
from skyaccord.tactical import detect
from skyaccord.tactical.bands import (
    BandDimension,
    Bands,
    BandSettings,
    advise,
    band_names,
    bands_for,
    nearest_free,
)
from skyaccord.tactical.levels import LevelCode, level_names
from skyaccord.tracks import Tracks

ACCORD = default_accord()
DEG_LON_35 = 91_287.8  # metres per degree of longitude at 35 N (WGS84)


def head_on(d_nm: float = 20.0) -> Tracks:
    return Tracks.from_rows([
        ("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
        ("b", "ru", "manned", 35.0, 36.0 + d_nm * 1852 / DEG_LON_35, 30000, 480, 270, 0),
    ])


def test_settings_limits_and_messages() -> None:
    """A step of exactly 0.001 and equal bounds are allowed (one candidate); an infinite
    or NaN step and inverted bounds are refused with the setting's name. Kills ``or`` for
    ``and`` and ``>`` for ``>=`` in the step check, ``<`` for ``<=`` in the bounds check,
    and either message made ``None`` (BandSettings.__post_init__ mutmut_15, 17, 19, 37,
    42)."""
    assert len(BandSettings(track_step_deg=1e-3).values("track")) == 360_000
    assert BandSettings(gs_min_kt=300.0, gs_max_kt=300.0).values("gs").tolist() == [300.0]
    for bad in (math.inf, math.nan, 0.0):
        with pytest.raises(InputError, match=r"gs_step_kt must be at least 0\.001"):
            BandSettings(gs_step_kt=bad)
    with pytest.raises(InputError, match="vs_min_fpm must not exceed vs_max_fpm"):
        BandSettings(vs_min_fpm=100.0, vs_max_fpm=0.0)


def test_band_names_by_hand() -> None:
    """Kills "conflict" renamed and the level names taken from 0 or 2 (band_names
    mutmut_5, 6, 9, 11)."""
    names = level_names(ACCORD)
    assert band_names(ACCORD) == {-1: "NONE", 0: "conflict",
                                  **{k: names[k] for k in range(1, len(ACCORD.levels) + 1)}}
    assert names[0] == "none" and len(ACCORD.levels) >= 2


def test_colours_are_int8_and_the_same_in_small_batches(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """The colours are int8 codes (kills the dtype dropped, colours mutmut_6, 9, 137,
    140), and computing them in batches of 7 candidate x intruder cells gives the same
    bands (``_CELLS`` patched: kills ``rows = stop + start``, ``break`` for ``continue``
    and ``len(hit) == 1`` for ``== 0``, mutmut_62, 133, 132)."""
    rng = np.random.default_rng(11)
    n = 9
    tracks = Tracks(np.array([f"t{i}" for i in range(n)]), rng.choice(["us", "ru"], n),
                    np.full(n, "manned"), 35.0 + rng.uniform(-0.15, 0.15, n),
                    36.0 + rng.uniform(-0.15, 0.15, n), rng.choice([29000.0, 30000.0], n),
                    rng.uniform(300, 500, n), rng.uniform(0, 360, n), np.zeros(n))
    whole = bands_for(tracks, ACCORD, 0)
    monkeypatch.setattr(importlib.import_module("skyaccord.tactical.bands"), "_CELLS", 7)
    batched = bands_for(tracks, ACCORD, 0)
    for dim, b in whole.bands.items():
        assert b.codes.dtype == np.int8
        np.testing.assert_array_equal(batched.bands[dim].codes, b.codes, err_msg=dim)
        assert batched.bands[dim].current_code == b.current_code
    assert sum(int((b.codes != LevelCode.FREE).sum()) for b in whole.bands.values()) > 10


def _track_bands(free: list[float], current: float) -> Bands:
    values = np.arange(0.0, 360.0, 1.0)
    codes = np.where(np.isin(values, free), LevelCode.FREE, 1).astype(np.int8)
    return Bands(BandDimension.TRACK, "deg", values, codes, current, 1)


def test_preferred_turn_across_north_and_at_180_by_hand() -> None:
    """Track candidates 0-359°. Flying 10°, free only at 344° and 41°: turn left 26°
    (not right 31°) to 344°, across north — kills ``% 361`` for ``% 360`` (nearest_free
    mutmut_37: -27), and the direction always or never "right" (mutmut_68, 72). Flying
    0°, free only at 180°: turn right 180° (the signed turn is in (-180, 180]) — kills the
    -180 fix made ``None``, ``+180``, ``-181`` or ``181`` (mutmut_40, 47, 48, 49)."""
    r = nearest_free(_track_bands([344.0, 41.0], 10.0))
    assert (r.dimension, r.value, r.delta, r.direction) == ("track", 344.0, -26.0, "left")
    r = nearest_free(_track_bands([180.0], 0.0))
    assert (r.value, r.delta, r.direction) == (180.0, 180.0, "right")


def test_preferred_change_smaller_than_one_unit() -> None:
    """A free ground speed 0.5 kt faster is "faster": kills ``d > 1`` for ``d > 0``
    (nearest_free mutmut_71)."""
    values = np.array([299.0, 299.5, 300.5, 301.0])
    b = Bands(BandDimension.GS, "kt", values, np.array([1, 1, -1, 1], dtype=np.int8),
              300.0, 1)
    r = nearest_free(b)
    assert (r.dimension, r.value, r.delta, r.direction) == ("gs", 300.5, 0.5, "faster")


def test_resolution_fields_when_free_or_blocked() -> None:
    """Free now: the resolution is the current value, by dimension. Nothing free: nan.
    Kills the dimension or value made ``None`` (nearest_free mutmut_2, 3, 18, 58)."""
    lone = bands_for(head_on().take([0]), ACCORD, 0)
    for dim, r in lone.resolutions.items():
        assert (r.dimension, r.delta, r.direction) == (dim, 0.0, "none")
        assert r.value == lone.bands[dim].current
    adv = bands_for(head_on(), ACCORD, 0)
    gs = adv.resolutions["gs"]  # speed cannot resolve a head-on encounter
    assert gs.dimension == "gs" and math.isnan(gs.value) and gs.direction == "none"
    assert adv.resolutions["track"].dimension == "track"


def test_advice_fields_and_the_row_limit() -> None:
    """The advice names its aircraft and each band its unit; a row equal to the number of
    tracks is refused like any other. Kills the id made ``None`` or ``"None"``, the unit
    ``None``, ``<=`` in the row check (bands_for mutmut_86, 96, 70, 4)."""
    tracks = head_on()
    adv = bands_for(tracks, ACCORD, 1)
    assert (adv.id, adv.row) == ("b", 1)
    assert {d: b.unit for d, b in adv.bands.items()} == {
        "track": "deg", "gs": "kt", "vs": "fpm", "alt": "ft"}
    with pytest.raises(TrackDataError, match="no track at row 2"):
        bands_for(tracks, ACCORD, 2)


def test_advise_passes_its_arguments_on() -> None:
    """``advise``'s look-ahead, settings and dimensions reach both the detection and the
    bands, and its default level is the first. Head-on at 20 NM: separation lost after
    56.25 s, at the accord's first level or above. Kills min_level 2 by default, the
    look-ahead not given to detect or to the bands, the settings or dimensions not
    passed on (advise mutmut_1, 5, 8, 19, 20, 25, 26, 27)."""
    tracks = head_on()
    assert int(detect(tracks, ACCORD).level[0]) >= 1
    assert [a.row for a in advise(tracks, ACCORD)] == [0, 1]
    # 40 NM apart: 35 NM to close at 960 kt, 131 s: the first level ("preventive",
    # within 300 s but not 120 s), which the default min_level includes
    far = head_on(40.0)
    assert detect(far, ACCORD).level.tolist() == [1]
    assert [a.row for a in advise(far, ACCORD)] == [0, 1]
    # a look-ahead of 50 s ends before the loss: no advice, and none in the bands
    assert advise(tracks, ACCORD, lookahead_s=50.0) == []
    settings = BandSettings(track_step_deg=2.0)
    (first, _) = advise(tracks, ACCORD, lookahead_s=60.0, settings=settings,
                        dimensions=("track",))
    assert list(first.bands) == ["track"] and len(first.bands["track"].values) == 180
    # with 60 s, turns a little short of 29° are free (they close slower, and lose
    # separation only after 60 s), which with the default 300 s they are not
    assert (first.bands["track"].codes == LevelCode.FREE).sum() > (
        bands_for(tracks, ACCORD, 0, settings=settings, dimensions=("track",))
        .bands["track"].codes == LevelCode.FREE).sum()


def test_kinematic_bands_arguments_and_fields() -> None:
    """The turn rate and chord time must be positive (any positive value, even below 1);
    a row equal to the number of tracks is refused; the codes are int8 in degrees. Kills
    ``or`` for ``and``, ``>=`` or ``> 1`` for ``> 0`` in either check, the messages made
    ``None`` or changed, ``<=`` in the row check, the codes' dtype dropped and the unit
    ``None`` (kinematic_track_bands mutmut_6, 7, 9-16, 103, 106, 162)."""
    from skyaccord.tactical.bands import kinematic_track_bands

    tracks = head_on()
    for rate, dt in ((0.0, 2.0), (3.0, 0.0), (-1.0, 2.0), (3.0, -1.0)):
        with pytest.raises(InputError) as err:
            kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=rate, dt_s=dt)
        assert str(err.value) == "turn_rate_deg_s and dt_s must be positive"
    slow = kinematic_track_bands(tracks, ACCORD, 0, turn_rate_deg_s=0.5, dt_s=0.5)
    assert slow.codes.dtype == np.int8 and slow.unit == "deg" and len(slow.values) == 360
    with pytest.raises(TrackDataError, match="no track at row 2 "):
        kinematic_track_bands(tracks, ACCORD, 2)
