"""``python -m skyaccord.tactical``: compile the tactical kernels into numba's cache.

``skyaccord detect`` runs compiled kernels (numba, ``cache=True``) from 30,000 tracks and
to write large outputs; numba compiles a kernel on its first call and stores the machine
code in its on-disk cache (``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``),
which every later process loads instead. Running this once after installing (or in an
image's build step) makes that first call happen here, so that no user run is the slow
one.
"""

from __future__ import annotations

import io
import time


def main() -> None:
    t0 = time.perf_counter()
    from skyaccord.protocol import default_accord
    from skyaccord.tactical import _csv
    from skyaccord.tactical.detect import conflict_table, detect, write_conflicts_csv
    from skyaccord.tracks import Tracks

    accord = default_accord()
    tracks = Tracks.from_rows([("a", "us", "manned", 35.0, 36.0, 30000, 480, 90, 0),
                               ("b", "ru", "manned", 35.0, 36.2, 30000, 480, 270, 0)])
    conflicts = detect(tracks, accord, engine="grid")  # the grid kernel
    _csv.COMPILED_ROWS = 0  # (this process only) the compiled writer, for one row
    write_conflicts_csv(conflict_table(tracks, conflicts, accord), io.BytesIO())
    print(f"tactical kernels compiled and cached ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
