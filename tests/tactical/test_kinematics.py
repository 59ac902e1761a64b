"""The exact loss-of-separation interval against dense time sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyaccord.errors import ProtocolError
from skyaccord.geo import FT
from skyaccord.protocol import default_accord
from skyaccord.tactical.kinematics import class_codes, loss_interval
from skyaccord.tracks import Tracks

f = st.floats(-30_000, 30_000)
v = st.floats(-600, 600)


def _inside(t: np.ndarray, p: tuple[float, ...], w: tuple[float, ...], r: float,
            h: float) -> np.ndarray:
    x = p[0] + w[0] * t
    y = p[1] + w[1] * t
    z = p[2] + w[2] * t
    return (np.hypot(x, y) < r) & (np.abs(z) < h)


@settings(max_examples=300, deadline=None)
@given(px=f, py=f, pz=st.floats(-2_000, 2_000), vx=v, vy=v, vz=st.floats(-60, 60))
def test_interval_agrees_with_dense_sampling(px: float, py: float, pz: float, vx: float,
                                             vy: float, vz: float) -> None:
    r, h = 9260.0, 304.8
    iv = loss_interval(np.array([px]), np.array([py]), np.array([pz]), np.array([vx]),
                       np.array([vy]), np.array([vz]), r, h)
    t_in, t_out = float(iv.t_in[0]), float(iv.t_out[0])
    t = np.linspace(-400, 400, 40_001)  # 0.02 s steps
    inside = _inside(t, (px, py, pz), (vx, vy, vz), r, h)
    predicted = (t > t_in) & (t < t_out)
    # Samples within 0.05 s of an interval end may fall either way.
    near_edge = (np.abs(t - t_in) < 0.05) | (np.abs(t - t_out) < 0.05)
    assert np.array_equal(inside[~near_edge], predicted[~near_edge])


def test_static_and_level_pairs() -> None:
    one = np.array([1.0])
    zero = np.array([0.0])
    # Static pair inside both minima: always in loss.
    iv = loss_interval(one * 100, zero, zero, zero, zero, zero, 9260.0, 304.8)
    assert iv.t_in[0] == -np.inf and iv.t_out[0] == np.inf
    # Static pair outside horizontally: never.
    iv = loss_interval(one * 10_000, zero, zero, zero, zero, zero, 9260.0, 304.8)
    assert iv.t_in[0] == np.inf and iv.t_out[0] == -np.inf
    # Exactly on the vertical boundary: never (strict).
    iv = loss_interval(zero, zero, one * 304.8, zero, zero, zero, 9260.0, 304.8)
    assert iv.t_in[0] == np.inf


def test_empty_input_gives_empty_output() -> None:
    e = np.zeros(0)
    iv = loss_interval(e, e, e, e, e, e, 1.0, 1.0)
    assert iv.t_in.shape == (0,) and iv.t_in.dtype == np.float64


def test_disjoint_horizontal_and_vertical_intervals_are_empty() -> None:
    """Horizontally inside from 0 to 20 s (20 km out, closing at 1 km/s, 10 km radius:
    in over (10, 30) s), vertically only from 40 s on: never both, so the empty interval
    (+inf, -inf), not the raw ends.

    Mutations caught (mutmut found them alive): either ``np.where(empty, ...)`` of the
    return dropped."""
    one = np.array([1.0])
    zero = np.array([0.0])
    iv = loss_interval(one * 20_000, zero, one * -1_300, one * -1_000, zero, one * 25.0,
                       10_000.0, 300.0)
    assert iv.t_in[0] == np.inf and iv.t_out[0] == -np.inf
    # the same pair climbing faster overlaps: (40 s is now 20 s) -> in over (20, 30) s
    iv = loss_interval(one * 20_000, zero, one * -1_300, one * -1_000, zero, one * 50.0,
                       10_000.0, 300.0)
    assert iv.t_in[0] == pytest.approx(20.0) and iv.t_out[0] == pytest.approx(30.0)


def test_vertical_tolerance_is_taken_off_the_minimum() -> None:
    """Two still aircraft 1,000 ft less 1e-7 ft apart are separated (the 1e-6 ft
    tolerance is taken off the minimum); 1e-5 ft closer, in loss.

    Mutations caught: the tolerance added (``+ TOLERANCE_FT * FT``) or in the wrong unit
    (``TOLERANCE_FT / FT``)."""
    from skyaccord.tactical.kinematics import PairGeometry, interval_for_minima

    def lost(dz_ft: float) -> bool:
        g = PairGeometry(*(np.array([v]) for v in (0.0, 0.0, dz_ft * FT, 0.0, 0.0, 0.0,
                                                   1.0, 9260.0, 1000.0 * FT)))
        return bool(interval_for_minima(g, g.radius_m, g.half_height_m).t_in[0] < 0)
    assert not lost(1000.0 - 1e-7)
    assert lost(1000.0 - 1e-5)


def test_unknown_class_is_named_with_the_accords_classes() -> None:
    """Mutations caught: the message's class, accord or list of classes dropped."""
    acc = default_accord()
    tracks = Tracks.from_rows([("a", "us", "balloon", 35.0, 36.0, 1000, 10, 0, 0)])
    with pytest.raises(ProtocolError) as exc:
        class_codes(tracks, acc)
    assert str(exc.value) == (f"track class 'balloon' is not a class of accord "
                              f"{acc.id!r} ({', '.join(acc.classes)})")
