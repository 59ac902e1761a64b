"""Benchmark: resolution bands for one ownship against 10,000 intruders at 1 degree.

Target: well under a second. Compared side by side with the brute force the
tests use (detect re-run with the ownship's track changed), timed on a few headings and
scaled to 360; the colours of those headings are checked equal.

Scenarios (10,000 intruders around an ownship at FL250): ``spread`` 1,000 x 1,000 km,
FL050-FL450; ``regional`` 500 x 500 km, FL100-FL400; ``dense`` 120 x 120 km within
3,000 ft (every intruder within reach: nothing pruned). Columns: time of the 360 track
bands and of all four dimensions (360 + 111 + 121 + 50 candidates), of the kinematic
track bands (3°/s turns, 2 s chords shared by the candidates turning the same way, then
each candidate's last chord and straight leg: ~780 legs), detect x360 (the
brute force, scaled from the headings re-run), their ratio, how many headings are free,
and on how many re-run headings the colours agree.

Run: ``python -m benchmarks.bands``.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import best_of, peak_rss_mib, report
from skyaccord.protocol import default_accord
from skyaccord.tactical.bands import bands_for, kinematic_track_bands
from skyaccord.tactical.detect import detect
from skyaccord.tactical.levels import LevelCode
from skyaccord.tracks import Tracks

N = 10_000
BRUTE_HEADINGS = 6


def picture(seed: int, half_km: float, dz_ft: float) -> Tracks:
    """Ownship at row 0 (35.5 N 38.0 E, FL250, 450 kt east) and N intruders."""
    rng = np.random.default_rng(seed)
    n = N + 1
    lat = 35.5 + rng.uniform(-1, 1, n) * half_km / 111.0
    lon = 38.0 + rng.uniform(-1, 1, n) * half_km / 90.6
    alt = 25_000 + rng.uniform(-dz_ft, dz_ft, n)
    lat[0], lon[0], alt[0] = 35.5, 38.0, 25_000.0
    gs = rng.uniform(150, 550, n)
    trk = rng.uniform(0, 360, n)
    vs = rng.choice([0.0, 0.0, 0.0, 1500.0, -1500.0], n)
    gs[0], trk[0], vs[0] = 450.0, 90.0, 0.0
    return Tracks(np.array([f"t{k}" for k in range(n)]),
                  rng.choice(["us", "ru", "tr"], n), np.array(["manned"] * n),
                  lat, lon, alt, gs, trk, vs)


def brute(tracks: Tracks, headings: np.ndarray) -> list[int]:
    accord = default_accord()
    out = []
    for h in headings:
        trk = tracks.trk_deg.copy()
        trk[0] = h
        c = detect(tracks.with_columns(trk_deg=trk), accord)
        mine = (c.pairs[0] == 0) | (c.pairs[1] == 0)
        out.append(int(c.level[mine].max()) if mine.any() else LevelCode.FREE)
    return out


def main() -> None:
    accord = default_accord()
    rows = []
    scenarios = {
        "spread": picture(1, 500.0, 20_000.0),
        "regional": picture(3, 250.0, 15_000.0),
        "dense": picture(2, 60.0, 3_000.0),
    }
    for name, tracks in scenarios.items():
        t_track, adv = best_of(lambda t=tracks: bands_for(t, accord, 0,
                                                          dimensions=("track",)))
        t_all, _ = best_of(lambda t=tracks: bands_for(t, accord, 0))
        t_kin, _ = best_of(lambda t=tracks: kinematic_track_bands(t, accord, 0), repeat=1)
        b = adv.bands["track"]
        # Headings to re-run detect on: the first of each colour, then evenly spaced.
        first = [int(np.argmax(b.codes == c)) for c in np.unique(b.codes)]
        even = np.linspace(0, 359, BRUTE_HEADINGS).round().astype(int).tolist()
        picks = np.array(sorted(set(first + even[:max(0, BRUTE_HEADINGS - len(first))])))
        values = b.values[picks]
        t_brute, colours = best_of(lambda t=tracks, v=values: brute(t, v), repeat=1)
        agree = colours == [int(b.codes[k]) for k in picks]
        t_brute_360 = t_brute / len(picks) * 360
        rows.append((name, N, round(t_track * 1e3, 1), round(t_all * 1e3, 1),
                     round(t_kin * 1e3, 1),
                     round(t_brute_360, 2), round(t_brute_360 / t_track, 1),
                     int((b.codes == LevelCode.FREE).sum()), f"{len(picks)}: "
                     + ("yes" if agree else "NO")))
    report("bands",
           ["scenario", "n", "track ms", "4 dims ms", "kinematic ms", "detect x360 s",
            "ratio",
            "free hdgs", "agree"],
           rows, {"peak_rss_mib": peak_rss_mib(), "target": "track bands < 1 s"})


if __name__ == "__main__":
    main()
