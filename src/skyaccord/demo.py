"""A reproducible busy picture over north-west Syria, for ``skyaccord demo``.

Until the theatre simulator exists this stands in for it: three parties (``us`` the
coalition, ``ru`` from Hmeimim near Latakia, ``tr`` patrolling the Turkish border near
Yayladağı) and some civil overflights in the Latakia–Idlib–border box, plus scripted
encounters so that every alert level shows. Positions of places: approximate public
coordinates (Hmeimim air base 35.40 N 35.95 E; Idlib 35.93 N 36.63 E; Yayladağı 35.90 N
36.06 E).
"""

from __future__ import annotations

import numpy as np

from skyaccord.geo import KT, LocalPlane
from skyaccord.tracks import Tracks

__all__ = ["DEMO_CENTRE", "demo_picture"]

#: centre of the demo box (between Latakia, Idlib and the border)
DEMO_CENTRE = (35.85, 36.35)

_PLACES = {  # (lat, lon) approximate
    "hmeimim": (35.401, 35.949),
    "idlib": (35.930, 36.633),
    "jisr": (35.810, 36.320),
    "yayladagi": (35.903, 36.061),
    "aleppo": (36.202, 37.134),
}


def demo_picture(seed: int = 2015, n_random: int = 240) -> Tracks:
    """The demo picture: ``n_random`` random tracks plus scripted encounters."""
    rng = np.random.default_rng(seed)
    plane = LocalPlane(*DEMO_CENTRE)
    rows: list[tuple[str, str, str, float, float, float, float, float, float]] = []

    def add(ident: str, party: str, cls: str, x_km: float, y_km: float, alt_ft: float,
            gs_kt: float, trk_deg: float, vs_fpm: float = 0.0) -> None:
        lat, lon = plane.inverse(np.array([x_km * 1e3]), np.array([y_km * 1e3]))
        rows.append((ident, party, cls, round(float(lat[0]), 6), round(float(lon[0]), 6),
                     alt_ft, gs_kt, trk_deg % 360.0, vs_fpm))

    def bearing_km(a: tuple[float, float], b: tuple[float, float]) -> float:
        xa, ya = plane.forward(np.array([a[0]]), np.array([a[1]]))
        xb, yb = plane.forward(np.array([b[0]]), np.array([b[1]]))
        return float(np.degrees(np.arctan2(xb[0] - xa[0], yb[0] - ya[0])))

    # Random traffic: each party's aircraft in its own area, flying towards its objective.
    mix = [("ru", 0.40, "hmeimim", "idlib"), ("us", 0.35, "aleppo", "jisr"),
           ("tr", 0.15, "yayladagi", "aleppo"), ("civil", 0.10, "aleppo", "hmeimim")]
    counts = rng.multinomial(n_random, [m[1] for m in mix])
    for (party, _, start, goal), count in zip(mix, counts, strict=True):
        sx, sy = (float(v[0]) / 1e3 for v in plane.forward(np.array([_PLACES[start][0]]),
                                                            np.array([_PLACES[start][1]])))
        course = bearing_km(_PLACES[start], _PLACES[goal])
        for k in range(int(count)):
            unmanned = party in ("us", "ru") and rng.random() < 0.25
            cls = "civil" if party == "civil" else ("unmanned" if unmanned else "manned")
            x = sx + rng.normal(0, 35)
            y = sy + rng.normal(0, 25)
            if cls == "unmanned":
                alt, gs, vs = rng.uniform(8_000, 25_000), rng.uniform(120, 200), 0.0
            elif cls == "civil":
                alt, gs, vs = rng.choice([31_000, 33_000, 35_000, 37_000]), 460.0, 0.0
            else:
                alt = float(rng.integers(10, 36)) * 1000.0
                gs = rng.uniform(360, 540)
                vs = rng.choice([0.0, 0.0, rng.uniform(1_000, 4_000) * rng.choice([-1, 1])])
            trk = course + rng.normal(0, 40)
            add(f"{party.upper()}{k + 1:03d}", party, cls, x, y, float(alt), float(gs),
                float(trk), float(vs))

    # Scripted encounters, each an inter-party pair closing on a known geometry.
    def encounter(name: str, a: tuple[str, str], b: tuple[str, str], x_km: float,
                  y_km: float, alt_ft: float, t_cpa_s: float, miss_km: float,
                  angle_deg: float, dz_ft: float = 0.0) -> None:
        gs = 450.0
        v = gs * KT / 1e3  # km/s
        # a flies north, b at angle_deg; both reach the CPA point at t_cpa_s.
        add(f"{name}-{a[0].upper()}", a[0], a[1], x_km, y_km - v * t_cpa_s, alt_ft, gs, 0.0)
        th = np.radians(angle_deg)
        bx = x_km + miss_km - np.sin(th) * v * t_cpa_s
        by = y_km - np.cos(th) * v * t_cpa_s
        add(f"{name}-{b[0].upper()}", b[0], b[1], float(bx), float(by), alt_ft + dz_ft, gs,
            angle_deg)

    encounter("E1", ("us", "manned"), ("ru", "manned"), -20, 10, 24_000, 45, 0.5, 180)
    encounter("E2", ("us", "manned"), ("ru", "manned"), 30, -15, 18_000, 100, 2.0, 90)
    encounter("E3", ("ru", "manned"), ("tr", "manned"), -35, 25, 20_000, 200, 1.0, 250)
    encounter("E4", ("us", "unmanned"), ("ru", "manned"), 10, 5, 16_000, 80, 0.8, 300)
    picture = Tracks.from_rows(rows)
    # Controlled traffic is not already in, or seconds from, a loss of separation: of
    # each random pair that would be (within 45 s), drop the later-generated aircraft.
    # The scripted encounters are generated last but are never dropped.
    from skyaccord.protocol import default_accord
    from skyaccord.tactical.detect import detect

    conflicts = detect(picture, default_accord())
    scripted = np.char.startswith(picture.id, "E")
    imminent = conflicts.pairs[:, conflicts.t_in_s < 45.0]
    imminent = imminent[:, ~scripted[imminent].any(axis=0)]
    drop = np.unique(imminent.max(axis=0))
    return picture.take(np.setdiff1d(np.arange(len(picture)), drop))
