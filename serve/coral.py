"""Coral Talk's External Moderation Phase: Coral POSTs each new or edited comment here and applies our answer.

Contract (coralproject/talk, src/core/server/services/comments/pipeline/phases/external.ts and
docs.coralproject.net/external-moderation-phases):

- Request: JSON `{"action": "NEW"|"EDIT", "comment": {"body", "parentID"}, "author": {"id", "role"},
  "story": {"id", "url"}, "site": {"id"}, "tenantID", "tenantDomain"}`, serialised by Coral with
  JSON.stringify(data, null, 2), signed in `X-Coral-Signature: sha256=<hex>[,sha256=<hex>...]`: one
  HMAC-SHA256 of the raw body per active signing secret (two while a secret is being rotated).
- Answer: 204 with no body to take no action, or 200 with `{"status", "actions", "tags"}` (all optional);
  Coral skips the phase on any other status or on its timeout.

Our mapping (docs/coral.md):
    reject  -> 200 {"status": "REJECTED", "actions": [FLAG COMMENT_DETECTED_TOXIC|SPAM]}
    hold    -> 200 {"status": "SYSTEM_WITHHELD", "actions": [FLAG ...]}  (pending queue, with the flag as reason)
    approve -> 204: the site's own pre-moderation settings stay in charge (also every answer in shadow mode)
"""

import hashlib
import hmac
import html
import re
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from model.artifact import LoadedModel
from model.inputs import Comment
from model.policy import APPROVE, REJECT

from .predict import Item, Outcome, Services, moderate
from .routes import services_for
from .schemas import MAX_ID_CHARS, AnyId, ErrorResponse, Id

coral_router = APIRouter(tags=["integrations"])

SIGNATURE_HEADER = "X-Coral-Signature"
# A header with more than this many signatures is refused unread: rotation needs two.
MAX_SIGNATURES = 8
FLAG_REASONS = {"toxic": "COMMENT_DETECTED_TOXIC", "spam": "COMMENT_DETECTED_SPAM"}
STATUS_FOR_ACTION = {REJECT: "REJECTED", "hold": "SYSTEM_WITHHELD"}


class _Lenient(BaseModel):
    # Coral adds fields over versions (older ones send `tenant: {id, domain}`); unknown keys are ignored.
    model_config = ConfigDict(extra="ignore")


# Ids are limited as the service's own are (serve/schemas.py): story and site ids are stored in String(256)
# columns, which PostgreSQL refuses NUL in, and every id is hashed into the audited comment id. Coral's ids
# are UUIDs, far inside the limits: an over-long id, or one with a control character, is a 422 naming the
# field, before any work.
class CoralComment(_Lenient):
    body: str
    parentID: AnyId | None = None


class CoralAuthor(_Lenient):
    id: AnyId
    role: str | None = Field(None, max_length=64)


class CoralStory(_Lenient):
    id: Id
    url: str | None = Field(None, max_length=2_000)


class CoralSite(_Lenient):
    id: AnyId | None = None


class CoralRequest(_Lenient):
    action: Literal["NEW", "EDIT"]
    comment: CoralComment
    author: CoralAuthor
    story: CoralStory
    site: CoralSite = Field(default_factory=CoralSite)
    tenantID: AnyId | None = None
    tenantDomain: str | None = Field(None, max_length=MAX_ID_CHARS)


def sign(body: bytes, secret: str) -> str:
    """The header item Coral sends for `body` under `secret` (also what tests and clients use)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when any `sha256=` item of the header is the HMAC of `body` under any secret.

    Every (secret, signature) pair is compared with compare_digest, without stopping at the first match.
    """
    if not header:
        return False
    items = [part.strip() for part in header.split(",") if part.strip()]
    if len(items) > MAX_SIGNATURES:
        return False
    presented = [p[len("sha256=") :].lower().encode("utf-8", "replace") for p in items if p.startswith("sha256=")]
    ok = False
    for secret in secrets:
        expected = sign(body, secret)[len("sha256=") :].encode()
        for candidate in presented:
            ok |= hmac.compare_digest(expected, candidate)
    return ok


# A tag holds no "<": with "[^>]*" a body of many "<" made every "<" scan to the end (quadratic).
_TAG = re.compile(r"<[^<>]*>")
_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li)\s*/?>", re.IGNORECASE)


def plain_text(body: str) -> str:
    """Coral sends HTML when the phase's format is HTML; the model reads text."""
    return html.unescape(_TAG.sub("", _BREAK.sub(" ", body))).strip()


def coral_answer(outcome: Outcome) -> Response:
    decision = outcome.decision
    if decision.action == APPROVE:
        return Response(status_code=204)
    reasons = [FLAG_REASONS[label] for label in decision.labels if label in FLAG_REASONS] or [FLAG_REASONS["spam"]]
    body: dict[str, Any] = {
        "status": STATUS_FOR_ACTION[decision.action],
        "actions": [{"actionType": "FLAG", "reason": r} for r in dict.fromkeys(reasons)],
    }
    return JSONResponse(body)


def _item(services: Services, req: CoralRequest, text: str) -> Item:
    notes: list[str] = []
    limit = services.settings.max_text_chars
    if len(text) > limit:
        notes.append(f"text of {len(text)} characters truncated to {limit} for scoring")
        text = text[:limit]
    # The article stored under Coral's story id (PUT /v1/articles/{story.id}); without one the comment is
    # scored alone: Coral sends only the story URL, and fetching it would break "offline" and the timeout.
    stored = services.guard.call("get_article", services.store.get_article, req.story.id, fallback=None)
    comment = Comment(text, stored.title, stored.body) if stored is not None else Comment(text)
    return Item(comment_id(req, text), None, comment, req.story.id, notes)


def comment_id(req: CoralRequest, text: str) -> str:
    """The id a Coral comment is audited under. Coral does not send the comment's id; this one is stable for
    the same text by the same author on the same story (GET /v1/audit/coral:<24 hex>)."""
    digest = hashlib.sha256(f"{req.tenantID}|{req.story.id}|{req.author.id}|{text}".encode()).hexdigest()
    return f"coral:{digest[:24]}"


@coral_router.post(
    "/v1/integrations/coral",
    status_code=200,
    responses={
        204: {"description": "no action: Coral's own settings decide"},
        401: {"model": ErrorResponse, "description": "missing or wrong X-Coral-Signature"},
        422: {"model": ErrorResponse, "description": "not a Coral external moderation request"},
        404: {"model": ErrorResponse, "description": "the integration is off: no Coral signing secret is configured"},
    },
)
async def coral_moderate(request: Request) -> Response:
    """Coral Talk External Moderation Phase endpoint (signed by Coral; no API key)."""
    secrets = request.app.state.settings.coral_signing_secrets
    if not secrets:
        # 404, not 503: nothing is broken, the feature is not switched on (and the client can do nothing about it).
        raise HTTPException(404, "the Coral integration is off: set MODERATION_CORAL_SIGNING_SECRETS")
    raw = await request.body()
    if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secrets):
        raise HTTPException(401, f"missing or invalid {SIGNATURE_HEADER}; check the phase's signing secret")
    try:
        req = CoralRequest.model_validate_json(raw)
    except ValidationError as e:
        detail = [{"loc": ["body", *e_["loc"]], "msg": e_["msg"], "type": e_["type"]} for e_ in e.errors()]
        raise HTTPException(422, detail) from None
    # Off the event loop like the model: the body may be as large as the request limit allows.
    text = await run_in_threadpool(plain_text, req.comment.body)
    if not text:
        return Response(status_code=204)
    services = services_for(request, _loaded(request))
    # Storage reads off the event loop (Coral's timeout is short and other calls wait); then the one path every
    # predict request takes.
    item = await run_in_threadpool(_item, services, req, text)
    outcome = (await moderate(services, [item], req.site.id, False))[0]
    return coral_answer(outcome)


def _loaded(request: Request) -> LoadedModel:
    loaded = request.app.state.holder.current
    if loaded is None:
        raise HTTPException(503, "no model is loaded")
    return loaded
