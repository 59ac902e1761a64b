"""The exact loss-of-separation interval against dense time sampling."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skyaccord.tactical.kinematics import loss_interval

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
