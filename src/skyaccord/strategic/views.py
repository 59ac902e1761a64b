"""What one party may see of another's intents: their volumes, never their mission.

A party sees its own intents whole. Of another party's intents it sees the volumes
(footprint, altitude band, time window: what deconfliction needs) under an opaque
reference, and the owning party; never the intent's id, aircraft class, priority or
state, which tell what the operation is. The reference is stable for one accord (so a
viewer can follow a volume set across refreshes) and reveals nothing of the id: a
SHA-256 of the accord's hash, the party and the id, cut to 16 hex digits.

The node's API and the command line's ``--as PARTY`` views both use this module.

>>> from skyaccord.strategic.volumes import Circle, Volume
>>> it = Intent("strike-7", "ru", (Volume(Circle(35.0, 38.0, 5e3), 0, 1e4, 0, 60),))
>>> opaque_ref(it, salt="ab") == opaque_ref(it, salt="ab") != opaque_ref(it, salt="cd")
True
>>> "strike" in opaque_ref(it, salt="ab")
False
"""

from __future__ import annotations

import hashlib

from skyaccord.strategic.volumes import Intent

__all__ = ["opaque_ref", "visible_to"]


def opaque_ref(intent: Intent, salt: str) -> str:
    """The reference under which other parties see ``intent`` (module doc)."""
    return hashlib.sha256(f"{salt}\0{intent.party}\0{intent.id}".encode()).hexdigest()[:16]


def visible_to(intent: Intent, party: str) -> bool:
    """Whether ``party`` may see ``intent`` whole (it is its own)."""
    return intent.party == party
