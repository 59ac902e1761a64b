"""Load (or, the first time, compile) the tactical kernels: detection's compiled grid and
the CSV writer's loop, each through its public path on a tiny input, so that the exact
signatures a large run calls are ready in numba's dispatchers.

``skyaccord detect`` calls :func:`warm_kernels` on a background thread while it reads a
large picture (loading numba and the cached machine code is mostly outside the GIL:
LLVM through ctypes, file reads), and ``python -m skyaccord.tactical`` calls it after
installing, to fill numba's on-disk cache.
"""

from __future__ import annotations

import io

__all__ = ["warm_kernels"]


def warm_kernels() -> None:
    """Run the compiled kernels once on two tracks (and write their one conflict)."""
    from skyaccord.protocol import default_accord
    from skyaccord.tactical.detect import conflict_table, detect, write_conflicts_csv
    from skyaccord.tracks import Tracks

    accord = default_accord()
    tracks = Tracks.from_rows([("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
                               ("b", "ru", "manned", 35.0, 36.2, 30000, 480, 270, 0)])
    conflicts = detect(tracks, accord, engine="grid")  # imports numba: the grid kernels
    # numba is loaded now, so the writer takes its compiled loop (even for one row)
    write_conflicts_csv(conflict_table(tracks, conflicts, accord), io.BytesIO())
