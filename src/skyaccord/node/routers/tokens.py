"""``/tokens``: operators' tokens (admin only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from skyaccord.node.auth import Role
from skyaccord.node.deps import Admin, Ctx
from skyaccord.node.models import TokenCreated, TokenOut

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Annotated[str, Field(pattern="^(viewer|operator|admin)$")]


@router.get("/tokens", summary="Tokens (never the secrets)", response_model=list[TokenOut])
def list_tokens(ctx: Ctx, _: Admin) -> list[dict[str, Any]]:
    return [t.public() for t in ctx.tokens.list()]


@router.post("/tokens", status_code=201, summary="Make a token (shown once)",
             response_model=TokenCreated)
def create_token(req: TokenIn, ctx: Ctx, _: Admin) -> dict[str, Any]:
    token, info = ctx.tokens.create(req.name, Role.parse(req.role))
    return {**info.public(), "token": token}


@router.delete("/tokens/{token_id}", summary="Revoke a token", response_model=TokenOut)
def revoke_token(token_id: str, ctx: Ctx, _: Admin) -> dict[str, Any]:
    return ctx.tokens.revoke(token_id).public()
