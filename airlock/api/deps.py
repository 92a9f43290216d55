"""Dependencies of the routes: the use-case context and the calling user."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request

from airlock.identity import Identity, IdentityError, User, token_from_header
from airlock.origin import Origin, origin_of
from airlock.service.context import Ctx


def get_ctx(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


async def current_user(request: Request) -> User:
    """The caller: a browser session (set by the hub OAuth login of the UI, the seam) or
    a hub API token in ``Authorization: token ...``, with where the call comes from."""
    user = getattr(request.state, "user", None)
    if isinstance(user, User):
        return replace(user, origin=Origin.OUTSIDE)  # a browser is outside the TRE
    token = token_from_header(request.headers.get("authorization"))
    if token is None:
        raise IdentityError("log in: send a JupyterHub API token as 'Authorization: token ...'")
    identity: Identity = request.app.state.identity
    user = await identity.authenticate(token)
    networks = get_ctx(request).settings.workspace_networks
    address = request.client.host if request.client is not None else None
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    return replace(user, origin=origin_of(address, user.credential, networks,
                                          forwarded=forwarded))


CtxDep = Annotated[Ctx, Depends(get_ctx)]
CurrentUser = Annotated[User, Depends(current_user)]
