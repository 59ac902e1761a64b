"""Performance envelopes of the aircraft types a scenario may fly.

A documented table, not a flight-dynamics model: cruise and limit speeds, climb and
descent rates, the bank limit of a routine turn and the service ceiling, per type. The
simulator turns at the standard rate (3 °/s, ICAO Doc 8168 "rate one") unless the bank
limit gives a slower rate at the aircraft's speed (``g·tan(bank)/v``), climbs and
descends at the table's rates and changes speed at its acceleration.

Sources (public figures, rounded; routine operating values are below the maxima):
- USAF fact sheets (af.mil): F-16C (speed 1,500 mph, ceiling 50,000 ft), F-15E (1,875 mph,
  50,000 ft), F-22A (Mach 2 class, ceiling 50,000 ft), KC-135R (530 mph, 50,000 ft),
  E-3 (optimum cruise 360 mph, ceiling 29,000 ft+), MQ-9A (cruise 230 mph, 50,000 ft),
  MQ-1B (cruise 84 mph, up to 135 mph, 25,000 ft).
- Sukhoi / United Aircraft Corporation published data: Su-24M (max 1,315 km/h low level,
  ceiling 11,000 m), Su-30SM (2,125 km/h, 17,300 m), Su-34 (1,900 km/h, 15,000 m),
  Su-25 (950 km/h, 7,000 m).
- EUROCONTROL Aircraft Performance Database (contentzone.eurocontrol.int/aircraftperformance):
  A320 and B738 cruise TAS about 450 kt at FL350, climb 2,000–2,500 ft/min mid-climb,
  descent about 2,000–3,000 ft/min; B77W cruise about 490 kt.
- Bank limits: 25–30° for transport aircraft in normal operations (EUROCONTROL APD, ICAO
  Doc 8168 PANS-OPS uses 25° for turn-area construction); 45° for fighters in routine
  (non-tactical) turns; 20° for MALE drones (the MQ-9's routine orbit bank, USAF).
"""

from __future__ import annotations

from dataclasses import dataclass

from skyaccord.errors import InputError

__all__ = ["PERFORMANCE", "STANDARD_RATE_DEG_S", "Performance", "performance"]

#: rate-one turn: 360° in two minutes (ICAO Doc 8168)
STANDARD_RATE_DEG_S = 3.0


@dataclass(frozen=True)
class Performance:
    """One type's envelope in aviation units."""

    type: str
    aircraft_class: str
    """the accord class the type flies as by default: manned, unmanned or civil"""
    cruise_kt: float
    min_kt: float
    max_kt: float
    climb_fpm: float
    descent_fpm: float
    bank_deg: float
    ceiling_ft: float
    accel_kt_s: float


def _p(t: str, cls: str, cruise: float, vmin: float, vmax: float, climb: float,
       descent: float, bank: float, ceiling: float, accel: float) -> Performance:
    return Performance(t, cls, cruise, vmin, vmax, climb, descent, bank, ceiling, accel)


#: the table (true airspeeds in kt; rates in ft/min; see the module's sources)
PERFORMANCE: dict[str, Performance] = {p.type: p for p in (
    # fighters and strike aircraft (USAF fact sheets; Sukhoi data)
    _p("F-16C", "manned", 480, 180, 800, 12_000, 8_000, 45, 50_000, 6.0),
    _p("F-15E", "manned", 480, 180, 800, 12_000, 8_000, 45, 50_000, 6.0),
    _p("F-22A", "manned", 500, 180, 900, 15_000, 8_000, 45, 50_000, 7.0),
    _p("Su-24M", "manned", 480, 200, 700, 8_000, 6_000, 45, 36_000, 5.0),
    _p("Su-30SM", "manned", 500, 180, 800, 12_000, 8_000, 45, 50_000, 6.0),
    _p("Su-34", "manned", 480, 200, 750, 9_000, 7_000, 45, 45_000, 5.0),
    _p("Su-25", "manned", 400, 150, 510, 5_000, 5_000, 45, 23_000, 4.0),
    # support aircraft (USAF fact sheets)
    _p("KC-135R", "manned", 460, 180, 500, 2_500, 2_500, 25, 50_000, 2.0),
    _p("E-3", "manned", 310, 160, 460, 2_000, 2_000, 25, 29_000, 2.0),
    _p("Il-20M", "manned", 330, 150, 370, 1_500, 1_500, 25, 32_000, 1.5),
    # unmanned (USAF fact sheets)
    _p("MQ-9A", "unmanned", 200, 100, 240, 1_500, 1_500, 20, 50_000, 1.0),
    _p("MQ-1B", "unmanned", 75, 55, 117, 800, 800, 20, 25_000, 0.5),
    _p("Forpost", "unmanned", 80, 55, 110, 800, 800, 20, 19_000, 0.5),
    # civil transport (EUROCONTROL APD)
    _p("A320", "civil", 450, 140, 480, 2_200, 2_500, 25, 39_000, 1.5),
    _p("B738", "civil", 450, 140, 480, 2_200, 2_500, 25, 41_000, 1.5),
    _p("B77W", "civil", 490, 150, 510, 2_000, 2_500, 25, 43_000, 1.5),
)}


def performance(type_name: str) -> Performance:
    """The envelope of ``type_name``; the error lists the types known."""
    try:
        return PERFORMANCE[type_name]
    except KeyError:
        raise InputError(f"unknown aircraft type {type_name!r}; known types: "
                         f"{', '.join(sorted(PERFORMANCE))}") from None
