"""The pages: thin routes that log the user in, build a view model, render it.

Reads are plain (sync) routes, which FastAPI runs in its thread pool.  Forms
are posted (with their CSRF token), handed to the same use cases as the API
(:mod:`airlock.service`), and answered with a redirect (post/redirect/get), so
a reload never votes twice.  A refused vote re-renders the page with the
reason and what the checker typed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airlock.service import actions, download, messages, voting
from airlock.service.pages import name_files, own_requests
from airlock.service.queries import queue_projects
from airlock.ui import (
    governance_edit,
    governance_filter,
    notebook,
    other_pages,
    queue_page,
    request_page,
    review_draft,
    triage,
)
from airlock.ui.auth import checked_form, page_user
from airlock.ui.errors import PageError, call
from airlock.ui.render import ctx_of, render, ui_of

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    """Each role lands on its own page: checkers on the queue, governance on theirs
    (not an empty "My requests"), everyone else on their requests."""
    user, ctx = page_user(request), ctx_of(request)
    if queue_projects(ctx, user) != []:
        target = "queue"
    else:
        everything, projects = other_pages.governance_scope(ctx, user)
        target = "governance" if (everything or projects) and not _has_requests(ctx, user) \
            else "mine"
    return RedirectResponse(f"{ui_of(request).base}/{target}", status_code=303)


def _has_requests(ctx: Any, user: str) -> bool:
    return bool(own_requests(ctx, user, limit=1))


@router.get("/queue")
def queue(request: Request) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    if queue_projects(ctx, user) == []:
        raise PageError(403, "Not allowed", "The review queue is for output checkers.")
    if request.query_params.get("tab") == "decided":
        q = str(request.query_params.get("q") or "")
        done = call(ctx, queue_page.decided, ctx, user, q)
        return render(request, "queue_decided.html", user=user, page=done)
    filters = queue_page.Filters.parse(request.query_params)
    page = call(ctx, queue_page.build, ctx, user, filters)
    return render(request, "queue.html", user=user, page=page, ages=queue_page.AGES,
                  reasons=triage.REASONS, empty=request.query_params.get("empty") == "1")


def _request_page(request: Request, user: str, request_id: str, status: int = 200,
                  **extra: Any) -> Response:
    ctx = ctx_of(request)
    page = call(ctx, request_page.build, ctx, user, request_id)
    extra.setdefault("error", None)
    extra.setdefault("typed", {})
    extra.setdefault("message_error", None)
    extra.setdefault("message_typed", "")
    summary = None
    if extra.pop("summarise", False):
        choices = {fid: t["choice"] for fid, t in extra["typed"].items() if t.get("choice")}
        votable = [review_draft.DraftFile(p.f.id, p.f.name, len(p.votes))
                   for p in page.files if p.can_vote]
        pending = sum(1 for p in page.files if not p.can_vote
                      and len(p.votes) < int(page.req.reviewers_required))
        summary = review_draft.summarise(votable, choices, int(page.req.reviewers_required),
                                         pending)
    reviewed = request.query_params.get("reviewed")
    return render(request, "request.html", status, user=user, page=page, summary=summary,
                  reviewed=reviewed if reviewed and reviewed.isdigit() else None, **extra)


@router.get("/requests/{request_id}")
def request_detail(request: Request, request_id: str) -> Response:
    return _request_page(request, page_user(request), request_id)


def _drafts(form: Any) -> dict[str, dict[str, str]]:
    """The review form's fields, ``choice:<file id>`` etc., by file id."""
    out: dict[str, dict[str, str]] = {}
    for key in ("choice", "comment", "override_reason"):
        for name, value in form.multi_items():
            if name.startswith(key + ":") and isinstance(value, str):
                out.setdefault(name.split(":", 1)[1][:64], {})[key] = value.strip()
    return out


@router.post("/requests/{request_id}/review")
async def submit_review(request: Request, request_id: str) -> Response:
    """The whole review at once: first a summary to confirm (nothing recorded), then,
    with ``confirm=yes``, every vote in one transaction (all or none)."""
    user, ctx = page_user(request), ctx_of(request)
    form = await checked_form(request)
    typed = _drafts(form)
    ballots = [voting.Ballot(fid, t["choice"], t.get("comment") or None,
                             t.get("override_reason") or None)
               for fid, t in typed.items() if t.get("choice")]
    if form.get("confirm") != "yes" or not ballots:
        return await run_in_threadpool(_request_page, request, user, request_id,
                                       typed=typed, summarise=True)
    try:
        await run_in_threadpool(call, ctx, voting.cast, ctx, user, request_id, ballots)
    except PageError as exc:
        if exc.status not in (404, 403):
            exc.message = await run_in_threadpool(name_files, ctx, request_id, exc.message)
        if exc.status != 422:
            raise
        return await run_in_threadpool(_request_page, request, user, request_id, 422,
                                       error=exc.message, typed=typed, summarise=True)
    url = f"{ui_of(request).base}/requests/{request_id}?reviewed={len(ballots)}#reviewed"
    return RedirectResponse(url, status_code=303)


@router.post("/requests/{request_id}/messages")
async def post_message(request: Request, request_id: str) -> Response:
    """A message to the request's conversation, or a checkers' note (``audience``)."""
    user, ctx = page_user(request), ctx_of(request)
    form = await checked_form(request)
    body, audience = _text(form, "body"), _text(form, "audience") or "all"
    try:
        await run_in_threadpool(call, ctx, messages.post, ctx, user, request_id, body,
                                audience)
    except PageError as exc:
        if exc.status != 422:
            raise
        return await run_in_threadpool(_request_page, request, user, request_id, 422,
                                       message_error=exc.message, message_typed=body or "")
    return RedirectResponse(f"{ui_of(request).base}/requests/{request_id}#conversation",
                            status_code=303)


@router.get("/queue/next")
def next_request(request: Request, after: str = "") -> Response:
    """The oldest request in the viewer's queue that they may still vote on (not theirs,
    not voted), other than ``after``; the queue when there is none."""
    user, ctx = page_user(request), ctx_of(request)
    page = call(ctx, queue_page.build, ctx, user, queue_page.Filters())
    base = ui_of(request).base
    for item in page.items:
        if item.id != after and not item.mine and not item.voted and item.needed:
            return RedirectResponse(f"{base}/requests/{item.id}", status_code=303)
    return RedirectResponse(f"{base}/queue?empty=1", status_code=303)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


@router.post("/requests/{request_id}/vote")
async def vote(request: Request, request_id: str) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    form = await checked_form(request)
    ballot = voting.Ballot(_text(form, "file_id") or "", _text(form, "choice") or "",
                           _text(form, "comment"), _text(form, "override_reason"))
    try:
        await run_in_threadpool(call, ctx, voting.cast, ctx, user, request_id, [ballot])
    except PageError as exc:
        if exc.status not in (404, 403):  # the request exists and is readable: name files
            exc.message = await run_in_threadpool(name_files, ctx, request_id, exc.message)
        if exc.status != 422:
            raise
        return await run_in_threadpool(
            _request_page, request, user, request_id, 422, error=exc.message,
            typed={ballot.file_id: {"choice": ballot.choice, "comment": ballot.comment or "",
                                    "override_reason": ballot.override_reason or ""}})
    url = f"{ui_of(request).base}/requests/{request_id}?voted={ballot.file_id}"
    return RedirectResponse(url, status_code=303)


@router.post("/requests/{request_id}/resubmit")
async def resubmit(request: Request, request_id: str) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    await checked_form(request)
    view = await run_in_threadpool(call, ctx, actions.resubmit_safe_alternative, ctx, user,
                                   request_id)
    return RedirectResponse(f"{ui_of(request).base}/mine?created={view['id']}",
                            status_code=303)


@router.post("/requests/{request_id}/withdraw")
async def withdraw(request: Request, request_id: str) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    await checked_form(request)
    await run_in_threadpool(call, ctx, actions.withdraw, ctx, user, request_id)
    return RedirectResponse(f"{ui_of(request).base}/mine", status_code=303)


@router.get("/requests/{request_id}/files/{file_id}/outputs/{cell}/{output}")
def notebook_image(request: Request, request_id: str, file_id: str, cell: int,
                   output: int) -> Response:
    """An image inside a notebook, served from here (the page's CSP allows no data: URLs).
    Through the API's preview: the same permission (review), the same audit event."""
    user, ctx = page_user(request), ctx_of(request)
    out = call(ctx, download.preview, ctx, user, request_id, file_id)
    try:
        data = out.path.read_bytes()
    finally:
        out.path.unlink(missing_ok=True)
    try:
        found = notebook.output_image(notebook.load(data), cell, output)
    except ValueError:
        found = None
    if found is None:
        raise PageError(404, "Not found", "No such image in this notebook.")
    body, media = found
    return Response(body, media_type=media, headers={
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


TEXT_MEDIA = ("text/", "application/json")


@router.get("/requests/{request_id}/files/{file_id}/view")
def file_view(request: Request, request_id: str, file_id: str,
              alternative: bool = False) -> Response:
    """"Open the file": a table or a text shown in the browser as plain text (a CSV
    served as text/csv is downloaded, not shown).  Through the API's preview: the same
    permission (review) and the same audit event; other kinds go to the API's copy."""
    user, ctx = page_user(request), ctx_of(request)
    out = call(ctx, download.preview, ctx, user, request_id, file_id, alternative)
    try:
        if not out.media_type.startswith(TEXT_MEDIA):
            url = f"{ui_of(request).base}/api/requests/{request_id}/files/{file_id}/content"
            return RedirectResponse(url + ("?alternative=true" if alternative else ""),
                                    status_code=303)
        body = out.path.read_bytes()
    finally:
        out.path.unlink(missing_ok=True)
    return Response(body, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": "inline", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "no-store"})


@router.get("/mine")
def mine(request: Request, created: str | None = None) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    rows = call(ctx, other_pages.mine, ctx, user)
    return render(request, "mine.html", user=user, rows=rows, created=created,
                  notice=other_pages.access_notice(ctx, user))


@router.get("/governance")
def governance(request: Request) -> Response:
    user, ctx = page_user(request), ctx_of(request)
    everything, projects = other_pages.governance_scope(ctx, user)
    if not everything and not projects:
        raise PageError(403, "Not allowed", "The governance view is for governance, "
                        "operators and those who manage a project's memberships.")
    page = call(ctx, other_pages.governance, ctx, user)
    days = _days(request.query_params.get("days"))
    perms = call(ctx, governance_edit.effective_permissions, ctx, everything, projects, days)
    pending = governance_edit.pending_proposals(ctx) if everything else []
    q = request.query_params
    filters = governance_filter.GovFilters.parse(q)
    offered = governance_filter.choices(page)
    governance_filter.apply(filters, page, perms)
    return render(request, "governance.html", user=user, page=page, perms=perms,
                  filters=filters, offered=offered,
                  pending=pending, can_edit=governance_edit.can_edit(ctx, user),
                  can_approve=governance_edit.can_approve(ctx, user),
                  applied=q.get("applied"), proposed=q.get("proposed"),
                  unchanged=q.get("unchanged") is not None)


def _days(value: str | None) -> int:
    try:
        days = int(value) if value else governance_edit.EXPIRY_DAYS
    except ValueError:
        return governance_edit.EXPIRY_DAYS
    return min(max(days, 1), 3650)


def _editor(request: Request) -> tuple[str, Any]:
    user, ctx = page_user(request), ctx_of(request)
    if not governance_edit.can_edit(ctx, user):
        raise PageError(403, "Not allowed", "Only governance may edit the policy "
                        "(policy edit in every project).")
    return user, ctx


def _edit_page(request: Request, user: str, text: str, status: int = 200, *,
               preview: governance_edit.Preview | None = None,
               refusal: governance_edit.Refusal | None = None, reason: str = "") -> Response:
    ctx = ctx_of(request)
    return render(request, "governance_edit.html", status, user=user, text=text,
                  preview=preview, refusal=refusal, reason=reason,
                  version=ctx.authz.version,
                  second_approval=governance_edit.second_approval())


@router.get("/governance/edit")
def governance_edit_form(request: Request) -> Response:
    user, ctx = _editor(request)
    return _edit_page(request, user, governance_edit.current_text(ctx))


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/governance/preview")
async def governance_preview(request: Request) -> Response:
    form = await checked_form(request)
    user, ctx = _editor(request)
    text, reason = _field(form, "policy"), _field(form, "reason")
    result = await run_in_threadpool(governance_edit.preview, ctx, text)
    return _edit_page(request, user, result.text, preview=result, reason=reason)


@router.post("/governance/apply")
async def governance_apply(request: Request) -> Response:
    form = await checked_form(request)
    user, ctx = _editor(request)
    text, reason = _field(form, "policy"), _field(form, "reason")
    result = await run_in_threadpool(governance_edit.apply, ctx, user, text, reason)
    if isinstance(result, governance_edit.Refusal):
        return _edit_page(request, user, governance_edit.normalise(text), 422,
                          refusal=result, reason=reason)
    return _outcome_redirect(request, result)


def _outcome_redirect(request: Request, outcome: Any) -> Response:
    base = f"{ui_of(request).base}/governance"
    if outcome.status == "proposed":
        return RedirectResponse(f"{base}?proposed={outcome.proposal}", status_code=303)
    if outcome.status == "unchanged":
        return RedirectResponse(f"{base}?unchanged=1", status_code=303)
    return RedirectResponse(f"{base}?applied={outcome.version}", status_code=303)


@router.post("/governance/proposals/{proposal}/approve")
async def governance_approve(request: Request, proposal: int) -> Response:
    await checked_form(request)
    user, ctx = page_user(request), ctx_of(request)
    if not governance_edit.can_approve(ctx, user):
        raise PageError(403, "Not allowed", "Only governance may approve a policy change.")
    result = await run_in_threadpool(governance_edit.approve, ctx, user, proposal)
    if isinstance(result, governance_edit.Refusal):
        raise PageError(409, "Not approved", result.message)
    return _outcome_redirect(request, result)
