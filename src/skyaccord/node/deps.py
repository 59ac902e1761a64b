"""What every route depends on: the node's parts, and the operator's token by role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from skyaccord.line.node import Node
from skyaccord.node.auth import Role, TokenInfo, TokenStore
from skyaccord.node.runtime import NodeRuntime

__all__ = ["Admin", "Ctx", "NodeContext", "Operator", "Viewer"]


@dataclass
class NodeContext:
    """The running node's parts, as the routes see them."""

    runtime: NodeRuntime
    tokens: TokenStore
    max_body_bytes: int
    registry: Any = None

    @property
    def line(self) -> Node:
        return self.runtime.line


def _ctx(request: Request) -> NodeContext:
    ctx: NodeContext = request.app.state.ctx
    return ctx


Ctx = Annotated[NodeContext, Depends(_ctx)]
_Auth = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


def _viewer(ctx: Ctx, authorization: _Auth = None) -> TokenInfo:
    return ctx.tokens.check(authorization, Role.VIEWER)


def _operator(ctx: Ctx, authorization: _Auth = None) -> TokenInfo:
    return ctx.tokens.check(authorization, Role.OPERATOR)


def _admin(ctx: Ctx, authorization: _Auth = None) -> TokenInfo:
    return ctx.tokens.check(authorization, Role.ADMIN)


Viewer = Annotated[TokenInfo, Depends(_viewer)]
Operator = Annotated[TokenInfo, Depends(_operator)]
Admin = Annotated[TokenInfo, Depends(_admin)]
