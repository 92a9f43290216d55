"""The request page's view model: everything a checker needs to decide one request.

Built from the service's own reads (:func:`airlock.service.pages.load_request`
gives the API's view, with votes blind before the quorum) plus what only a
reviewer sees: the files' contents, flagged cells, evidence summaries, the
safe alternative and the earlier releases the differencing check names.

Who sees what: file contents for users allowed to review this request
(``request review``, which never includes its requester), and for the
requester, their own files as checked (tables with the flags on their cells,
text, notebooks, and the safe alternative before they accept it: they made
these files, and must see what the checks saw).  The requester never sees the
earlier releases the differencing check names (possibly other people's), and
images and PDFs stay behind the API's preview (reviewers only).  Showing a
file's contents is audited (``airlock.file.view``), as the API's preview is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock.domain.review import same_user
from airlock.domain.states import State
from airlock.service import messages
from airlock.service.context import Ctx
from airlock.service.download import PREVIEWABLE
from airlock.service.pages import Earlier, earlier_releases, load_request, record_views
from airlock.store import StoreError
from airlock.ui import explain, notebook, tables
from airlock.ui import history as trail
from tre.authz import Decision
from tre.authz.invariants import REQUESTER_NEVER_REVIEWS

if TYPE_CHECKING:  # the detached rows airlock.service.pages returns: read, never queried
    from airlock.db.models import Request, RequestFile

_RELEASE_ID = re.compile(r"\b[0-9a-f]{32}\b")
TABLE_KINDS = frozenset({"csv", "tsv", "parquet"})
TEXT_KINDS = frozenset({"text", "markdown", "json"})
IMAGE_KINDS = frozenset({"png", "jpeg", "svg"})
MAX_TEXT_CHARS = 200_000


@dataclass
class EarlierView:
    release: Earlier
    grid: tables.Grid | None
    note: str = ""


@dataclass
class FilePanel:
    number: int
    f: RequestFile
    assessments: list[explain.Assessment]
    votes: list[dict[str, Any]]
    grid: tables.Grid | None = None
    alt_grid: tables.Grid | None = None
    text: str | None = None
    notebook: list[notebook.NotebookCell] | None = None
    earlier: list[EarlierView] = field(default_factory=list)
    # how each differencing flag is derived (reviewers only, like the earlier releases)
    derivations: list[explain.Derivation] = field(default_factory=list)
    note: str = ""  # why the contents are not shown
    can_vote: bool = False
    my_vote: dict[str, Any] | None = None
    needs_override: bool = False
    overridden: bool = False  # released after a reviewer overrode its automated fail

    @property
    def flags(self) -> list[explain.Flag]:
        return [fl for a in self.assessments for fl in a.flags]

    @property
    def anchor(self) -> str:
        return f"file-{self.number}"

    @property
    def alternative(self) -> dict[str, Any] | None:
        return self.f.alternative


@dataclass
class RequestPage:
    req: Request
    view: dict[str, Any]
    files: list[FilePanel]
    can_review: bool
    can_override: bool
    readonly_reason: str | None
    show_content: bool
    history: list[trail.EventRow]
    own: bool = False  # the viewer made this request
    can_resubmit: bool = False  # theirs, returned or rejected, with a safe alternative
    messages: list[messages.Shown] = field(default_factory=list)
    can_write: bool = False  # may post in the conversation
    can_note: bool = False  # may write a checkers' note
    can_preview: bool = False  # the API serves its files to the viewer (images, PDFs)

    @property
    def review(self) -> dict[str, Any]:
        return dict(self.view.get("review") or {})

    @property
    def automatic(self) -> dict[str, Any]:
        d = self.req.decision or {}
        auto = d.get("automatic") if d.get("by") == "review" else d
        return dict(auto or {})

    @property
    def decided_automatically(self) -> bool:
        """No person decided it: the automated checks approved or rejected it."""
        return (self.req.decision or {}).get("by") == "automatic" and \
            self.req.state != State.IN_REVIEW.value

    @property
    def decision_notes(self) -> list[dict[str, Any]]:
        """The automatic decision's reasons that the files' flag lists do not already
        say (the flags are listed once, with their file, not twice)."""
        flagged = {fl.message for p in self.files for fl in p.flags}
        return [r for r in self.automatic.get("reasons", [])
                if isinstance(r, dict) and r.get("message") not in flagged
                and not str(r.get("message", "")).startswith("and ")]


def readonly_reason(req: Request, d: Decision) -> str | None:
    """Why this user cannot vote here, in a sentence (None: they can, or there is
    nothing to say: a researcher reading their own decided request)."""
    if d.rule == ("invariant", REQUESTER_NEVER_REVIEWS) and req.state != State.IN_REVIEW.value:
        return None
    if d.allowed:
        if req.state != State.IN_REVIEW.value:
            return f"This request is {req.state.replace('_', ' ')}: votes are only taken " \
                   "while a request is in review."
        return None
    if d.rule == ("invariant", REQUESTER_NEVER_REVIEWS):
        return "You made this request: output checkers review it, and you are told here " \
               "when they have decided."
    if d.rule and d.rule[-1] == "deny":  # a checker, whom a deny rule stops here
        return f"The policy does not let you review this request ({', '.join(d.rule)})."
    if d.rule and d.rule[0] == "invariant":
        return f"You cannot review this request ({d.rule[1]})."
    return f"You are not an output checker for {req.project}: this page is read-only."


def _read(ctx: Ctx, sha: str, limit: int = tables.MAX_BYTES) -> bytes | None:
    try:
        return ctx.store.read_bytes(sha, limit)
    except StoreError as exc:
        if "larger than" in str(exc):
            return None
        raise


def _assessments(f: RequestFile) -> list[explain.Assessment]:
    return [explain.assessment(c.subject, c.verdict, f"{c.profile_name} v{c.profile_version}",
                               c.result) for c in f.checks]


def _evidence(f: RequestFile, nk_n: int) -> tables.Evidence:
    ev = next((c.evidence for c in f.checks if c.subject == "file" and c.evidence), None)
    return tables.Evidence(ev, nk_n)


def _contents(ctx: Ctx, panel: FilePanel, req: Request, shown: list[tuple[str, str, str, bool]]
              ) -> None:
    f, nk_n = panel.f, int((req.profile or {}).get("nk_n", 2))
    kind = f.kind
    if kind in TABLE_KINDS:
        data = _read(ctx, f.sha256)
        if data is None:
            panel.note = "This table is too large to show here; open the file to inspect it."
        else:
            panel.grid = tables.build(tables.parse(data, kind), panel.flags,
                                      _evidence(f, nk_n), panel.anchor)
            shown.append((f.id, f.name, f.sha256, False))
        alt = f.alternative
        if alt and alt.get("sha256"):
            alt_data = _read(ctx, alt["sha256"])
            if alt_data is not None:
                alt_kind = str(alt.get("name", "")).rpartition(".")[2].lower()
                alt_kind = alt_kind if alt_kind in TABLE_KINDS else "csv"
                panel.alt_grid = tables.build(tables.parse(alt_data, alt_kind), [],
                                              tables.Evidence(None), panel.anchor + "a",
                                              original=panel.grid)
                shown.append((f.id, str(alt.get("name")), alt["sha256"], True))
    elif kind in TEXT_KINDS:
        data = _read(ctx, f.sha256, MAX_TEXT_CHARS * 4)
        if data is None:
            panel.note = "This file is too long to show here; open it to read it."
        else:
            panel.text = data.decode("utf-8-sig", errors="replace")
            shown.append((f.id, f.name, f.sha256, False))
    elif kind == "notebook":
        data = _read(ctx, f.sha256)
        if data is None:
            panel.note = "This notebook is too large to show here; open it to read it."
        else:
            verdicts = {a.subject: a.verdict for a in panel.assessments}
            try:
                panel.notebook = notebook.cells(notebook.load(data), verdicts)
                shown.append((f.id, f.name, f.sha256, False))
            except ValueError:
                panel.note = "This notebook cannot be read."
    elif kind == "xlsx":
        panel.note = "Spreadsheets are not shown inline (they can hide sheets and cells); " \
                     "open the file to inspect it."


def _earlier(ctx: Ctx, panel: FilePanel, req: Request,
             shown: list[tuple[str, str, str, bool]]) -> None:
    ids = {m for a in panel.assessments for c in a.checks if c.rule == "differencing"
           and c.verdict != "pass" for text in (c.summary, *(fl.message for fl in c.flags))
           for m in _RELEASE_ID.findall(text)}
    panel.derivations = [d for c in panel.f.checks for check in c.result.get("checks", [])
                         for d in explain.derivations(check)]
    for e in earlier_releases(ctx, req.project, ids):
        view = EarlierView(e, None)
        data = _read(ctx, e.sha256) if e.kind in TABLE_KINDS else None
        if data is None:
            view.note = "not a table that can be shown here"
        else:
            view.grid = tables.build(tables.parse(data, e.kind), [], tables.Evidence(None),
                                     f"{panel.anchor}-e{e.file_id[:8]}")
            shown.append((e.file_id, e.name, e.sha256, False))
        panel.earlier.append(view)


def build(ctx: Ctx, user: str, request_id: str) -> RequestPage:
    loaded = load_request(ctx, user, request_id)
    req, view = loaded.req, loaded.view
    context = {"requester": req.requester}
    review_d = ctx.authz.enforce(user, req.project, "request", "review", context)
    override_d = ctx.authz.enforce(user, req.project, "request", "override", context)
    review = view.get("review") or {}
    own = same_user(req.requester, user)
    released = req.state == State.RELEASED.value
    required = int(req.reviewers_required)
    in_review = req.state == State.IN_REVIEW.value
    shown: list[tuple[str, str, str, bool]] = []
    panels = []
    for n, f in enumerate(req.files, start=1):
        votes = [v for v in review.get("votes", []) if v["file_id"] == f.id]
        panel = FilePanel(n, f, _assessments(f), votes)
        panel.my_vote = next((v for v in votes if v["own"]), None)
        panel.needs_override = f.verdict == "fail"
        panel.overridden = released and f.verdict == "fail" and any(
            v.file_id == f.id and v.override_reason for v in loaded.votes)
        panel.can_vote = (review_d.allowed and in_review and panel.my_vote is None
                          and len(votes) < required)
        if review_d.allowed and req.state in PREVIEWABLE:
            _contents(ctx, panel, req, shown)
            _earlier(ctx, panel, req, shown)
        elif review_d.allowed:  # the API's preview refuses these states too
            panel.note = (f"This request is {req.state.replace('_', ' ')}: its files are "
                          "shown to reviewers once it is put to review.")
        elif own:  # their own files as checked (airlock.visibility: only once reviewed)
            _contents(ctx, panel, req, shown)
        else:
            panel.note = "File contents are shown to the request's reviewers only."
        panels.append(panel)
    record_views(ctx, user, req, shown, review_d)
    events = trail.rows(loaded.events, user, bool(review.get("quorum_reached")), req.requester)
    return RequestPage(req, view, panels, review_d.allowed, override_d.allowed,
                       readonly_reason(req, review_d), review_d.allowed or own, events,
                       own=own, can_preview=review_d.allowed,
                       can_resubmit=own and req.state in (State.REJECTED.value,
                                                          State.RETURNED.value)
                       and any(f.alternative for f in req.files),
                       messages=messages.shown(ctx, user, req.id, req.requester,
                                               bool(review.get("quorum_reached")),
                                               review_d.allowed),
                       can_write=own or review_d.allowed, can_note=review_d.allowed)
