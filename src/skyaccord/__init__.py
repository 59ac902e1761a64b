"""skyaccord: keep apart the aircraft of parties who share an airspace but not their plans.

The entry points of the engines are here, each a name of its home module:

- the accord: :func:`load_accord`, :func:`default_accord`, :class:`Accord`
  (:mod:`skyaccord.protocol`);
- a picture: :class:`Tracks`, :func:`read_tracks_csv`, :func:`write_tracks_csv`
  (:mod:`skyaccord.tracks`), :class:`Picture` and :class:`StateUpdate`
  (:mod:`skyaccord.picture`);
- conflict detection and resolution: :func:`detect`, :class:`PairConflicts`,
  :func:`conflict_records`, :func:`level_names`, :func:`bands_for`, :func:`advise`
  (:mod:`skyaccord.tactical`);
- airspace: :func:`predict_incursions`, :class:`Zone`, :func:`load_zones_geojson`,
  :func:`theatre_borders`, :func:`zones_from_accord` (:mod:`skyaccord.airspace`);
- the registry: :class:`Registry` (:mod:`skyaccord.strategic.registry`), :class:`Intent`,
  :class:`Volume`, :class:`Circle`, :class:`Polygon` (:mod:`skyaccord.strategic`),
  :func:`open_store` (:mod:`skyaccord.store`);
- feeds: :func:`read_updates`, :func:`open_feed` (:mod:`skyaccord.ingest`);
- errors: :class:`SkyaccordError` and its subclasses (:mod:`skyaccord.errors`).

DataFrames (the ``pandas`` extra) are in :mod:`skyaccord.frames`.

Importing skyaccord has no side effects and loads none of the engines: each name is
imported from its module on first use (PEP 562), so ``import skyaccord`` (and the
command line's start) costs no numpy, numba or shapely.
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing (with re, about 12 ms of a start): type
# checkers take any name TYPE_CHECKING as true
TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from typing import Any

    from skyaccord.airspace import (
        Incursions,
        Zone,
        load_zones_geojson,
        predict_incursions,
        theatre_borders,
        zones_from_accord,
    )
    from skyaccord.errors import SkyaccordError
    from skyaccord.ingest import FeedStats, open_feed, read_updates
    from skyaccord.picture import Picture, StateUpdate
    from skyaccord.protocol import Accord, default_accord, load_accord
    from skyaccord.store import Store, open_store
    from skyaccord.strategic import Circle, Intent, Polygon, Volume
    from skyaccord.strategic.registry import Registry
    from skyaccord.tactical import (
        Advice,
        PairConflicts,
        advise,
        bands_for,
        conflict_records,
        detect,
        level_names,
    )
    from skyaccord.tracks import Tracks, read_tracks_csv, write_tracks_csv

__version__ = "0.1.0"

#: Each public name and the module it is imported from on first use.
_HOMES: dict[str, str] = {
    **dict.fromkeys(("Accord", "default_accord", "load_accord"), "skyaccord.protocol"),
    **dict.fromkeys(("Tracks", "read_tracks_csv", "write_tracks_csv"), "skyaccord.tracks"),
    **dict.fromkeys(("Picture", "StateUpdate"), "skyaccord.picture"),
    **dict.fromkeys(("Advice", "PairConflicts", "advise", "bands_for", "conflict_records",
                     "detect", "level_names"), "skyaccord.tactical"),
    **dict.fromkeys(("Incursions", "Zone", "load_zones_geojson", "predict_incursions",
                     "theatre_borders", "zones_from_accord"), "skyaccord.airspace"),
    **dict.fromkeys(("Circle", "Intent", "Polygon", "Volume"), "skyaccord.strategic"),
    "Registry": "skyaccord.strategic.registry",
    **dict.fromkeys(("Store", "open_store"), "skyaccord.store"),
    **dict.fromkeys(("FeedStats", "open_feed", "read_updates"), "skyaccord.ingest"),
    "SkyaccordError": "skyaccord.errors",
}

__all__ = [
    "Accord",
    "Advice",
    "Circle",
    "FeedStats",
    "Incursions",
    "Intent",
    "PairConflicts",
    "Picture",
    "Polygon",
    "Registry",
    "SkyaccordError",
    "StateUpdate",
    "Store",
    "Tracks",
    "Volume",
    "Zone",
    "__version__",
    "advise",
    "bands_for",
    "conflict_records",
    "default_accord",
    "detect",
    "level_names",
    "load_accord",
    "load_zones_geojson",
    "open_feed",
    "open_store",
    "predict_incursions",
    "read_tracks_csv",
    "read_updates",
    "theatre_borders",
    "write_tracks_csv",
    "zones_from_accord",
]


# Hidden from type checkers, which see the imports above: a misspelt name stays an error
# to mypy rather than Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """Import a public name from its home module the first time it is asked for."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'skyaccord' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__} - {"TYPE_CHECKING", "annotations", "importlib"})
