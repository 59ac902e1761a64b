"""``GET /accord``: the accord in force, its version and hash."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from skyaccord.node.deps import Ctx, Viewer
from skyaccord.node.models import AccordOut

__all__ = ["router"]

router = APIRouter(tags=["accord"])


@router.get("/accord", summary="The accord in force", response_model=AccordOut)
def get_accord(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    a = ctx.runtime.accord
    return {"id": a.id, "version": a.version, "title": a.title, "sha256": a.sha256,
            "effective": a.effective, "accord": a.to_dict()}
