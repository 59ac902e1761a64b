"""The ASTM F3548-21 discovery and synchronization service (DSS): the USS→DSS interface
under ``/dss/v1`` (README.md beside this file says what each module owns)."""

from __future__ import annotations

from .api import create_app, dss_router
from .auth import Authenticator, Caller, load_public_keys
from .db import open_db
from .service import NULL_SUBSCRIPTION, AirspaceConflict, Dss, UssDown, VersionConflict

__all__ = [
    "NULL_SUBSCRIPTION",
    "AirspaceConflict",
    "Authenticator",
    "Caller",
    "Dss",
    "UssDown",
    "VersionConflict",
    "create_app",
    "dss_router",
    "load_public_keys",
    "open_db",
]
