"""Sovereign and restricted airspace: zones, predicted incursions, warning sequences.

Public API: :class:`Zone`, :func:`theatre_borders`, :func:`load_zones_geojson`,
:func:`zones_from_accord`, :func:`predict_incursions` (:class:`Incursions`),
:func:`incursion_records`, :class:`WarningPolicy`, :func:`schedule_warnings`,
:func:`assess_warnings`.
"""

from skyaccord.airspace.crossing import Incursions, predict_incursions, project_geometry
from skyaccord.airspace.warning import (
    IncursionRecord,
    WarningMessage,
    WarningOutcome,
    WarningPolicy,
    assess_warnings,
    incursion_records,
    schedule_warnings,
)
from skyaccord.airspace.zones import (
    THEATRE_PARTIES,
    Zone,
    circle_polygon,
    load_zones_geojson,
    theatre_borders,
    zones_from_accord,
    zones_from_geojson,
)

__all__ = [
    "THEATRE_PARTIES",
    "IncursionRecord",
    "Incursions",
    "WarningMessage",
    "WarningOutcome",
    "WarningPolicy",
    "Zone",
    "assess_warnings",
    "circle_polygon",
    "incursion_records",
    "load_zones_geojson",
    "predict_incursions",
    "project_geometry",
    "schedule_warnings",
    "theatre_borders",
    "zones_from_accord",
    "zones_from_geojson",
]
