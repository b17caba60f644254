"""Perspective API compatible endpoints, so a client written for Google's Perspective can point at us.

    POST /v1alpha1/comments:analyze       -> `moderate`, the path /v1/predict takes (policy, audit, metrics)
    POST /v1alpha1/comments:suggestscore  -> a moderator label in the feedback store, as POST /v1/feedback

Every answer from these routes, errors included, is in Google's shape (`{"error": {"code", "message",
"status"}}`): a Perspective client parses that, not FastAPI's `detail`. The key may come as `?key=`, as
Perspective clients send it, or in our usual headers. docs/perspective.md has the mapping and what differs.
"""

import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from model.artifact import LoadedModel
from model.inputs import Comment
from model.modeldir import ArtifactError
from storage import FeedbackIn

from .auth import FEEDBACK, PREDICT, SECURITY, Caller, check_key, presented_key
from .perspective_attributes import analyze as analyze_attributes
from .perspective_attributes import load_attributes
from .perspective_schemas import (
    ATTRIBUTES,
    LANGUAGE,
    NOT_HERE,
    SPANS_OF,
    TRAINED,
    AnalyzeRequest,
    SuggestRequest,
    article_of,
    is_english,
)
from .predict import Item, audit_id, moderate
from .routes import services_for
from .routes_data import OPEN_MODE_MODERATOR, storage

perspective_router = APIRouter(tags=["perspective"])
T = TypeVar("T", bound=BaseModel)

# Our status codes -> gRPC status names, as Google's JSON errors carry them.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
SUGGEST_THRESHOLD = 0.5  # a suggested value at or above this is a "yes" for its label
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


class PerspectiveError(Exception):
    """Answered as `{"error": {"code", "message", "status"[, "details"]}}` (see perspective_error)."""

    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


async def perspective_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PerspectiveError)
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "status": _STATUS.get(exc.code, "UNKNOWN")}
    if exc.reason:
        error["details"] = [{"@type": _ERROR_INFO, "reason": exc.reason}]
    return JSONResponse({"error": error}, status_code=exc.code)


def _from_http(e: HTTPException) -> PerspectiveError:
    detail = e.detail
    if isinstance(detail, list):  # our 422 lists: keep the messages, not the shape
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return PerspectiveError(400 if e.status_code == 422 else e.status_code, str(detail))


def caller(request: Request, scope: str) -> Caller:
    """The key from our headers, else from `?key=` (Perspective's way). No key is 401 UNAUTHENTICATED, as on
    every route here (Google says 403 there; clients only see "not ok"); a key we do not know is 400
    API_KEY_INVALID and a key without the scope 403 PERMISSION_DENIED, as Google answers them."""
    presented = presented_key(request) or (request.query_params.get("key") or "").strip() or None
    try:
        return check_key(request.app.state.keyring, presented, frozenset({scope}))
    except HTTPException as e:
        if e.status_code == 401 and presented is None:
            raise PerspectiveError(
                401, "the request is missing an API key: send ?key=<key>, X-API-Key or Authorization: Bearer"
            ) from None
        if e.status_code == 401:
            raise PerspectiveError(400, "API key not valid; pass a key this service knows", "API_KEY_INVALID") from None
        raise _from_http(e) from None


async def parse(request: Request, schema: type[T]) -> T:
    try:
        return schema.model_validate_json(await request.body())
    except ValidationError as e:
        # Field and problem only: the input is not echoed back (it may be a large text or personal data).
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors())
        raise PerspectiveError(400, f"invalid request: {problems}") from None


def check_languages(languages: list[str]) -> None:
    others = [code for code in languages if not is_english(code)]
    if others:
        raise PerspectiveError(
            400, f"language {others[0]!r} is not supported; this service scores English only: send ['{LANGUAGE}']"
        )


def unsupported(name: str, supported: list[str], labels: Sequence[str] | None = None) -> PerspectiveError:
    if name in ATTRIBUTES and labels is not None and ATTRIBUTES[name][0] not in labels:
        # Read from one of the model's labels: a model trained on other labels cannot answer it.
        return PerspectiveError(
            400,
            f"attribute {name} is read from the label {ATTRIBUTES[name][0]!r}, which the model being served does "
            f"not predict (labels are the model's, GET /v1/model); this model's attributes are {supported}",
        )
    if name in TRAINED:  # the service can, this model cannot
        return PerspectiveError(
            400,
            f"attribute {name} is not supported by the model being served: its directory has no attributes/ folder "
            f"(add one with `python -m training.attributes --model-dir DIR`, or serve models/default); this model's "
            f"attributes are {supported}",
        )
    where = "not supported by this service" if name in NOT_HERE else "not a Perspective attribute this service knows"
    return PerspectiveError(400, f"attribute {name} is {where}; supported attributes are {supported}")


def comment_text(text: str, limit: int) -> str:
    if not text.strip():
        raise PerspectiveError(400, "comment.text is empty; send the comment's text")
    if len(text) > limit:
        raise PerspectiveError(400, f"comment.text has {len(text)} characters; this service takes at most {limit}")
    return text


# In OpenAPI: the header schemes every keyed route declares; `?key=` is described in the text, not declared
# as a scheme, since only these two routes take it.
_OPENAPI = {"security": SECURITY}


@perspective_router.post("/v1alpha1/comments:analyze", openapi_extra=_OPENAPI)
async def analyze(request: Request) -> JSONResponse:
    """Perspective's AnalyzeComment. TOXICITY, SPAM, UNSUBSTANTIAL from the model's calibrated scores (TOXICITY
    is /v1/predict's toxic score); SEVERE_TOXICITY, INSULT, PROFANITY, THREAT, IDENTITY_ATTACK from the
    model's attribute heads, with character spans when `spanAnnotations` is true. Needs the `predict` scope
    (`?key=` or the usual headers)."""
    caller(request, PREDICT)  # before the body is read, like every other route
    body = await parse(request, AnalyzeRequest)
    check_languages(body.languages)
    loaded = _loaded(request)
    try:
        attributes = load_attributes(loaded)  # checked at start and reload (serve/warm.py): here a lookup
    except ArtifactError as e:
        raise PerspectiveError(503, f"the model's attributes cannot be used: {e}") from None
    ours = scored_attributes(loaded)
    heads = [n for n in attributes.names if n not in ATTRIBUTES] if attributes else []
    supported = [*ours, *heads]
    wanted = {}
    for name, params in body.requestedAttributes.items():
        if name in supported:
            wanted[name] = params
        elif not body.dropUnsupportedAttributes:
            raise unsupported(name, supported, loaded.metadata["labels"])
    services = services_for(request, loaded)
    text = comment_text(body.comment.text, services.settings.max_text_chars)
    title, article = article_of(body.context)
    item = Item(audit_id(None, text), None, Comment(text, title, article), None, store=not body.doNotStore)
    try:
        outcome = (await moderate(services, [item], body.communityId, False))[0]
    except HTTPException as e:
        raise _from_http(e) from None
    values = {
        name: (1.0 - outcome.scores[label] if inverted else outcome.scores[label])
        for name, (label, inverted) in ours.items()
    }
    spans: dict[str, list[tuple[int, int, float]]] = {}
    if attributes is not None and (body.spanAnnotations or any(n in heads for n in wanted)):
        # After moderate(): the model has embedded this text and remembers it, so the heads add no encoder pass.
        head_scores, spans = await run_in_threadpool(analyze_attributes, loaded, attributes, text, body.spanAnnotations)
        values.update({n: head_scores[n] for n in heads})
    scores: dict[str, Any] = {}
    for name, params in wanted.items():
        value = round(values[name], 6)
        if params.scoreThreshold is not None and value < params.scoreThreshold:
            continue  # as Perspective: an attribute under its threshold is left out
        scores[name] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if body.spanAnnotations and SPANS_OF.get(name) in spans:
            scores[name]["spanScores"] = [
                {"begin": b, "end": e, "score": {"value": round(v, 6), "type": "PROBABILITY"}}
                for b, e, v in spans[SPANS_OF[name]]
            ]
    answer: dict[str, Any] = {"attributeScores": scores, "languages": [LANGUAGE]}
    if body.clientToken is not None:
        answer["clientToken"] = body.clientToken
    return JSONResponse(answer)


def scored_attributes(loaded: LoadedModel) -> dict[str, tuple[str, bool]]:
    """TOXICITY, SPAM, UNSUBSTANTIAL: those whose label the serving model predicts (labels are the model's)."""
    labels = set(loaded.metadata["labels"])
    return {name: spec for name, spec in ATTRIBUTES.items() if spec[0] in labels}


def suggested_label(values: dict[str, float]) -> str:
    """TOXICITY >= 0.5 is toxic, else SPAM >= 0.5 is spam, else substantive. Toxic first when both: a
    Perspective client's suggestions are about toxicity, and a comment that is both should be learnt as toxic."""
    if values.get("TOXICITY", 0.0) >= SUGGEST_THRESHOLD:
        return "toxic"
    if values.get("SPAM", 0.0) >= SUGGEST_THRESHOLD:
        return "spam"
    return "substantive"


@perspective_router.post("/v1alpha1/comments:suggestscore", openapi_extra=_OPENAPI)
async def suggest_score(request: Request) -> JSONResponse:
    """Perspective's SuggestCommentScore: stored as moderator feedback (`training.fit --feedback` learns from it).
    Needs the `feedback` scope; the moderator recorded is the key's name."""
    who = caller(request, FEEDBACK)
    body = await parse(request, SuggestRequest)
    check_languages(body.languages)
    # UNSUBSTANTIAL has no label of its own to learn. A "no" to both is learnt as substantive: a model without
    # toxic, spam and substantive among its labels cannot take these suggestions.
    labels = _loaded(request).metadata["labels"]
    accepted = ["TOXICITY", "SPAM"] if {"toxic", "spam", "substantive"} <= set(labels) else []
    for name in body.attributeScores:
        if name not in accepted:
            raise unsupported(name, accepted, labels if not accepted else None)
    text = comment_text(body.comment.text, request.app.state.settings.max_text_chars)
    title, article = article_of(body.context)
    # Stable per community and text, so a comment suggested twice is exported once, with its latest label.
    digest = hashlib.sha256(f"{body.communityId or ''}|{text}".encode()).hexdigest()[:24]
    item = FeedbackIn(
        comment_id=f"perspective:{digest}",
        text=text,
        label=suggested_label({k: v.summaryScore.value for k, v in body.attributeScores.items()}),
        moderator_id=who.name or OPEN_MODE_MODERATOR,
        article_title=title,
        article_body=article,
        site_id=body.communityId,
    )
    store = request.app.state.store
    try:
        with storage("store the feedback"):
            await run_in_threadpool(store.add_feedback, item)
    except HTTPException as e:
        raise _from_http(e) from None
    answer: dict[str, Any] = {"detectedLanguages": [LANGUAGE]}
    if body.languages:
        answer["requestedLanguages"] = body.languages
    if body.clientToken is not None:
        answer["clientToken"] = body.clientToken
    return JSONResponse(answer)


def _loaded(request: Request) -> Any:
    loaded = request.app.state.holder.current
    if loaded is None:
        raise PerspectiveError(503, "no model is loaded; try again once /readyz says ready")
    return loaded
