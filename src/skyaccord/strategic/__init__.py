"""Strategic deconfliction: the operations registry (intents, 4D volumes, conflicts,
resolutions, private overlap). See README.md in this package."""

from __future__ import annotations

from skyaccord.strategic.volumes import (
    ACTIVE_STATES,
    Circle,
    Intent,
    IntentState,
    Limits,
    Polygon,
    RouteFix,
    Volume,
    route_volumes,
    validate_intent,
)

__all__ = [
    "ACTIVE_STATES",
    "Circle",
    "Intent",
    "IntentState",
    "Limits",
    "Polygon",
    "RouteFix",
    "Volume",
    "route_volumes",
    "validate_intent",
]
