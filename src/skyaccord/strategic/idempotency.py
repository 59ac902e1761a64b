"""Idempotent writes: a retried request has one effect.

A write that names a ``request_id`` records, in the same transaction, the id, a digest
of the request (:func:`request_digest`) and the intent version it produced
(:class:`~skyaccord.store.RequestRow`). A later request with that id is answered from
the record (:func:`replay`) when its digest is the same, and refused when it differs: an
id names one request. The digests are stored, so their bytes must not change between
versions of skyaccord (a retry across an upgrade would be refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from skyaccord.errors import IntentError
from skyaccord.store.base import Txn
from skyaccord.strategic.codec import intent_from_dict, stored_json
from skyaccord.strategic.volumes import Intent

__all__ = ["replay", "request_digest"]


def request_digest(kind: str, payload: object) -> str:
    """SHA-256 (hex) of a request: its ``kind`` and its JSON ``payload``.

    >>> request_digest("state", ["a", "us", "ended", 1])[:16]
    '7c69eeabcd5d438d'
    """
    # compared with stored digests: codec.stored_json keeps the bytes of earlier versions
    return hashlib.sha256(stored_json([kind, payload]).encode()).hexdigest()


def replay(t: Txn, request_id: str | None, digest: str) -> Intent | None:
    """The intent that the recorded request ``request_id`` produced (at the version it
    produced), or None when there is no such record; raises :class:`IntentError` when
    the id was used for another request."""
    if request_id is None:
        return None
    rec = t.request(request_id)
    if rec is None:
        return None
    if rec.digest != digest:
        raise IntentError(f"request id {request_id!r} was already used for another "
                          "request; use a new id for a new request")
    row = t.get(rec.intent_id)
    assert row is not None
    intent = intent_from_dict(json.loads(row.body))
    return replace(intent, version=rec.version) if intent.version != rec.version else intent
