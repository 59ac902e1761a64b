"""``python -m skyaccord.tactical``: compile the tactical kernels into numba's cache.

``skyaccord detect`` runs compiled kernels (numba, ``cache=True``) from 30,000 tracks and
to write large outputs; numba compiles a kernel on its first call and stores the machine
code in its on-disk cache (``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``),
which every later process loads instead. Running this once after installing (or in an
image's build step) makes that first call happen here, so that no user run is the slow
one.
"""

from __future__ import annotations

import time


def main() -> None:
    t0 = time.perf_counter()
    from skyaccord.tactical._warm import warm_kernels

    warm_kernels()
    print(f"tactical kernels compiled and cached ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
