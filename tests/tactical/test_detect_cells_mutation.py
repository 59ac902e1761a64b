"""The numpy cell grid's run search by binary search, and ``detect``'s choice of engine,
written for survivors of the detect group's mutation run (``tests/mutation/run.py
detect``; the mutants each test kills are named in its docstring).

``cell_candidates`` finds a cell's run in the points sorted by cell from a dense table
of run starts while the table is small (``_MAX_DENSE_CELLS``), by ``searchsorted``
beyond: no picture of the tests reaches the limit (4 M cells), so the second path is
forced here by lowering it, and held to the brute force of
``test_detect_pruning_mutation.py`` (each slice's candidates are exactly the pairs within
its box and not within it at the slice before, each pair once) and to the all-pairs
reference.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from skyaccord.protocol import default_accord
from skyaccord.tactical import detect, detect_all_pairs
from skyaccord.tactical.detect import PairConflicts, cell_candidates
from skyaccord.tracks import Tracks

from . import test_detect_pruning_mutation as kd
from .test_detect import random_picture

detect_module = importlib.import_module("skyaccord.tactical.detect")  # not the function
ACCORD = default_accord()
FIELDS = ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "dz_m", "level", "same_party")
kd.ENGINES["cells"] = cell_candidates


@pytest.mark.parametrize("n_slices", [None, 1, 5])
def test_binary_search_runs_hand_on_exactly_the_pairs_within_each_box(
        n_slices: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The searchsorted path (``_MAX_DENSE_CELLS`` 0): each slice's candidates by brute
    force.

    Mutants killed: ``cell_candidates`` 77 (no sorted keys), 112-129 (the run bounds'
    ``searchsorted`` calls: arguments dropped or ``None``, the sides changed)."""
    monkeypatch.setattr(detect_module, "_MAX_DENSE_CELLS", 0)
    kd.test_each_slice_hands_on_exactly_the_pairs_within_its_box(n_slices, "cells")


@pytest.mark.parametrize(("n", "seed", "box_km"), [(60, 41, 20.0), (400, 42, 60.0)])
def test_binary_search_cells_equal_all_pairs(n: int, seed: int, box_km: float,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``detect(engine="cells")`` by the searchsorted path: the all-pairs reference,
    every field (the mutants of the docstring above, through ``detect``)."""
    tracks = random_picture(n, seed, box_km, mixed=True, classes=True)
    monkeypatch.setattr(detect_module, "_MAX_DENSE_CELLS", 0)
    got = detect(tracks, ACCORD, engine="cells")
    want = detect_all_pairs(tracks, ACCORD)
    assert len(want) > 10
    assert np.array_equal(got.pairs, want.pairs)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


def test_auto_engine_is_the_grid_from_compiled_from_tracks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``engine="auto"`` runs the compiled grid from ``COMPILED_FROM`` tracks on (here
    lowered to 40), the numpy cells below: 39 tracks do not reach the grid, 40 and 41
    do, and both give the all-pairs reference's conflicts.

    Mutants killed: ``detect`` 18 (never the grid), 19 (always), 20, 21 (an unknown
    engine's name for the grid: refused), 22 (``>``: exactly ``COMPILED_FROM`` tracks
    given to the cells)."""
    monkeypatch.setattr(detect_module, "COMPILED_FROM", 40)
    calls: list[int] = []
    grid = detect_module._grid_conflicts

    def spy(state: object, tracks: Tracks, *rest: object) -> PairConflicts:
        calls.append(len(tracks))
        out: PairConflicts = grid(state, tracks, *rest)
        return out

    monkeypatch.setattr(detect_module, "_grid_conflicts", spy)
    picture = random_picture(41, 43, 15.0, mixed=True)
    for n in (39, 40, 41):
        tracks = Tracks(*(getattr(picture, f)[:n] for f in (
            "id", "party", "aircraft_class", "lat", "lon", "alt_ft", "gs_kt", "trk_deg",
            "vs_fpm")))
        got = detect(tracks, ACCORD)
        want = detect_all_pairs(tracks, ACCORD)
        assert len(want) > 5
        assert np.array_equal(got.pairs, want.pairs)
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    assert calls == [40, 41]
