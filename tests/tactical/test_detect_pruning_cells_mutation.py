"""The numpy cell grid's pair search (``cell_candidates``, ``detect(engine="cells")``)
held to the same promises as the k-d tree's in test_detect_pruning_mutation.py: the slice
count that minimises the documented box volume, and exactly the pairs within each
slice's box (not in the slice before's), each pair once. (A file of its own: the detect
mutation run's recheck ran on a snapshot of detect.py from before the cell grid.)"""

from __future__ import annotations

import pytest

from skyaccord.tactical.detect import cell_candidates
from skyaccord.tracks import Tracks

from . import test_detect_pruning_mutation as kd

kd.ENGINES["cells"] = cell_candidates


@pytest.mark.parametrize(("name", "tracks", "look", "want"), kd.CASES,
                         ids=[c[0] for c in kd.CASES])
def test_the_cell_grid_uses_the_documented_slice_count(name: str, tracks: Tracks,
                                                      look: float, want: int | None) -> None:
    kd.test_the_slice_count_minimises_the_documented_box_volume(name, tracks, look, want,
                                                                "cells")


@pytest.mark.parametrize("n_slices", [None, 1, 5])
def test_each_cell_grid_slice_hands_on_exactly_the_pairs_within_its_box(
        n_slices: int | None) -> None:
    kd.test_each_slice_hands_on_exactly_the_pairs_within_its_box(n_slices, "cells")
