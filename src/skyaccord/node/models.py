"""The typed bodies of the node's API responses (pydantic), as the OpenAPI document shows
them. Units are in the field names, as everywhere in skyaccord."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skyaccord.line.deadlines import Debt

__all__ = [
    "AccordOut",
    "AlertsOut",
    "ConflictAlert",
    "HealthOut",
    "IncursionAlert",
    "LineAlert",
    "Problem",
    "TokenCreated",
    "TokenOut",
    "TrackColumns",
    "TracksOut",
]


class Problem(BaseModel):
    """An error (RFC 9457): ``type`` is ``urn:skyaccord:problem:<kind>``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class TrackColumns(BaseModel):
    """Tracks as parallel columns (one entry per aircraft)."""

    id: list[str]
    party: list[str]
    aircraft_class: list[str] = Field(alias="class")
    lat: list[float]
    lon: list[float]
    alt_ft: list[float]
    gs_kt: list[float]
    trk_deg: list[float]
    vs_fpm: list[float]


class TracksOut(BaseModel):
    t: float | None = Field(description="the tick's time, UTC seconds (null before the first)")
    count: int
    tracks: TrackColumns
    note: str | None = None


class ConflictAlert(BaseModel):
    """A predicted loss of separation between two aircraft (ids ordered)."""

    key: str
    type: str
    id1: str
    id2: str
    party1: str
    party2: str
    level: str
    rank: int = Field(description="the level's rank: 0 none, then the accord's levels")
    t: float
    t_in_s: float
    t_out_s: float | None = Field(description="null: the loss never ends on straight lines")
    tcpa_s: float
    dcpa_nm: float
    dz_ft: float
    cpa1: list[float] = Field(description="[lat, lon] of aircraft 1 at closest approach")
    cpa2: list[float] = Field(description="[lat, lon] of aircraft 2 at closest approach")


class IncursionAlert(BaseModel):
    """An aircraft inside (``incursion``) or heading into (``predicted``) a zone."""

    key: str
    type: str
    id: str
    party: str
    zone: str
    owner: str
    level: str
    t: float
    t_entry_s: float
    t_exit_s: float | None
    entry: list[float] = Field(description="[lat, lon] where it enters")


class LineAlert(BaseModel):
    """A message from a peer that operators must see."""

    key: str
    type: str
    kind: str
    sender: str = Field(alias="from")
    received_at: float
    message: dict[str, Any]


class AlertsOut(BaseModel):
    t: float | None
    conflicts: list[ConflictAlert]
    incursions: list[IncursionAlert]
    line: list[LineAlert]
    overdue: list[Debt]
    stuck: list[dict[str, Any]] = Field(
        description="streams of the line that cannot progress (peer down or refusing, "
                    "messages lost): an operator must act")
    accord: list[dict[str, Any]] = Field(
        default_factory=list, description="the accord's state that needs attention: "
        "suspensions of the version in force, and messages refused in the last hour "
        "because they were under another version (each names both)")


class UndecidedProposal(BaseModel):
    sha256: str
    id: str
    version: int
    proposer: str
    effective_at: float = Field(description="when it takes effect if every party "
                                "accepted in time (UTC s; passed)")
    awaiting: list[str] = Field(description="the parties whose answer is missing and "
                                "who have not been heard from since that time: their "
                                "answer or any later message of theirs decides")


class AccordOut(BaseModel):
    id: str
    version: int
    title: str
    sha256: str
    effective: str | None
    accord: dict[str, Any] = Field(description="the accord's canonical form")
    suspended: list[dict[str, Any]] = Field(
        default_factory=list, description="suspensions of this version (its automatic "
        "messages stop while any stands)")
    withheld: int = Field(0, description="automatic messages not sent while suspended")
    undecided: list[UndecidedProposal] = Field(
        default_factory=list, description="proposals whose outcome this node does not "
        "know yet and on which the version in force now depends (empty in the normal "
        "case); while any is listed, ordinary messages are held (503 accord-undecided) "
        "and conflict messages go in the priority lane")
    held: int = Field(0, description="automatic messages held (not signed) because the "
                      "version in force was undecided, told again later; safety messages "
                      "(conflicts) are never held")
    held_reason: str | None = Field(
        None, description="why ordinary messages are held now (None: nothing is held)")
    expedited: int = Field(0, description="automatic conflict messages sent in the "
                           "priority lane because the version in force was undecided")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="the versions that took or take effect, the "
        "first the log began under")
    switches: list[dict[str, Any]] = Field(
        default_factory=list, description="the switches this node recorded")
    next_switch_at: float | None = Field(
        None, description="when an accepted version takes effect next (UTC s)")


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    party: str
    accord: str
    tracks: int
    last_tick: dict[str, float] | None
    ticking: bool
    writable: bool
    line: dict[str, Any]
    updates_in: int
    refused_in: int


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: float


class TokenCreated(TokenOut):
    token: str = Field(description="the secret, shown this once")
