"""What every route depends on: the node's parts, and the operator's token by role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
# Declares the scheme in the OpenAPI document; the token itself is checked below, so
# that a missing or malformed header gets the node's own 401 problem.
_bearer = HTTPBearer(auto_error=False, description="An operator token (viewer, operator "
                     "or admin); `skyaccord node init` writes the first admin's.")
_Auth = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _header(request: Request) -> str | None:
    return request.headers.get("authorization")


def _viewer(ctx: Ctx, request: Request, _: _Auth) -> TokenInfo:
    return ctx.tokens.check(_header(request), Role.VIEWER)


def _operator(ctx: Ctx, request: Request, _: _Auth) -> TokenInfo:
    return ctx.tokens.check(_header(request), Role.OPERATOR)


def _admin(ctx: Ctx, request: Request, _: _Auth) -> TokenInfo:
    return ctx.tokens.check(_header(request), Role.ADMIN)


Viewer = Annotated[TokenInfo, Depends(_viewer)]
Operator = Annotated[TokenInfo, Depends(_operator)]
Admin = Annotated[TokenInfo, Depends(_admin)]
