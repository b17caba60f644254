"""HTTP routes over the Store: articles and feedback (`data_router`), audit log and feedback export
(`admin_data_router`). Each route names its scope (serve/auth.py); the key is checked before the body is read.

Ids in the path (`/v1/articles/{id}`, `/v1/audit/{comment_id}`) are the rest of the path, percent-decoded
once as UTF-8: `a/b` and `a%2Fb` name the same article "a/b", `%25` is a literal "%". A percent-escape
that is not UTF-8 is refused (422): decoded leniently it became U+FFFD, so `%FF` and `%FE` named one id.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from starlette.convertors import Convertor, register_url_convertor

from model.artifact import LoadedModel
from model.labels import LABEL_PATTERN, LABEL_RULE, LABELS
from storage import AuditEntry, FeedbackIn, StorageError, Store
from storage.export import training_rows

from .auth import ADMIN, ArticlesRead, ArticlesWrite, AuthFirstRoute, Caller, FeedbackScope, require
from .routes import ModelDep
from .schemas import (
    ID_PATTERN,
    MAX_BODY_CHARS,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    ErrorResponse,
    Id,
    Strict,
    no_control_characters,
)

log = logging.getLogger("serve.data")


class _IdConvertor(Convertor[str]):
    """`{name:id}`: the rest of the path, like Starlette's `path`, but across line breaks too, so that an id
    holding one reaches the validator (a 422 naming the field) instead of matching no route (a 404)."""

    regex = "[\\s\\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# Registered before the routes below are declared: Starlette compiles a route's pattern when it is made.
register_url_convertor("id", _IdConvertor())

data_router = APIRouter(tags=["data"], route_class=AuthFirstRoute)
admin_data_router = APIRouter(tags=["admin"], route_class=AuthFirstRoute, dependencies=[Depends(require(ADMIN))])

PathId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_CHARS, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(no_control_characters),
]
# Recorded as the moderator of feedback sent with no keys configured (open mode) and no moderator_id.
OPEN_MODE_MODERATOR = "local"
_503 = {503: {"model": ErrorResponse, "description": "the database refused the read or write"}}
# Routes with a JSON body: a body that does not decode (invalid UTF-8, too deeply nested) is a 400.
_400 = {400: {"model": ErrorResponse, "description": "body is not decodable JSON (invalid UTF-8, too deeply nested)"}}


# async: a lookup, not worth a thread-pool hand-off (see serve.routes).
async def get_store(request: Request) -> Store:
    store = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "storage is not configured on this server; set database_url and restart")
    return store


StoreDep = Annotated[Store, Depends(get_store)]


async def utf8_path(request: Request) -> None:
    """The path must be UTF-8 once percent-decoded: uvicorn decodes it leniently, and every bad escape
    becomes U+FFFD, so two different ids would silently name one row."""
    try:
        unquote_to_bytes(request.scope.get("raw_path") or b"").decode("utf-8")
    except UnicodeDecodeError:
        loc: list[str] = ["path", *list(request.path_params)[:1]]
        msg = (
            "the id is not UTF-8 once percent-decoded; percent-encode each character's UTF-8 bytes "
            "(é is %C3%A9, / may be sent as is or as %2F)"
        )
        raise HTTPException(422, [{"loc": loc, "msg": msg, "type": "value_error"}]) from None


Utf8Path = Depends(utf8_path)


@contextmanager
def storage(what: str) -> Iterator[None]:
    """A database failure is a 503 the client can retry, not a 500; the operator gets the full reason."""
    try:
        yield
    except StorageError as e:
        log.error("%s: %s", what, e)
        raise HTTPException(503, f"could not {what}: storage unavailable; the server log has the details") from e


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain at least one non-whitespace character")
    return value


# Articles


class ArticlePut(Strict):
    # The pattern only documents the rule in the OpenAPI schema (a fuzzer sent "\n" as schema-valid); the
    # validator enforces it with a message that says what is wrong.
    title: str = Field(..., min_length=1, max_length=MAX_TITLE_CHARS, json_schema_extra={"pattern": r"\S"})
    body: str = Field("", max_length=MAX_BODY_CHARS)
    url: str = Field("", max_length=2_000)

    _title = field_validator("title")(_not_blank)


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    url: str
    updated_at: datetime


@data_router.put(
    "/v1/articles/{article_id:id}",
    responses={201: {"model": ArticleOut, "description": "stored as new"}, **_400, **_503},
    dependencies=[Utf8Path],
)
def put_article(
    article_id: PathId, body: ArticlePut, store: StoreDep, response: Response, _: ArticlesWrite
) -> ArticleOut:
    """Store (or replace) an article; predict and feedback can then name it by `article_id`. 201 when new.
    Needs the `articles` scope. The id may contain `/` (sent as is or as %2F)."""
    with storage("store the article"):
        existed = store.get_article(article_id) is not None
        store.put_article(article_id, body.title, body.body, body.url)
        saved = store.get_article(article_id)
    if saved is None:  # deleted between the write and the read: nothing here deletes, so the database lost it
        raise HTTPException(503, "the article was written but cannot be read back; check the database")
    response.status_code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
    return ArticleOut(**vars(saved))


@data_router.get(
    "/v1/articles/{article_id:id}", responses={404: {"model": ErrorResponse}, **_503}, dependencies=[Utf8Path]
)
def get_article(article_id: PathId, store: StoreDep, _: ArticlesRead) -> ArticleOut:
    """A stored article. Needs the `articles` or the `predict` scope."""
    with storage("read the article"):
        article = store.get_article(article_id)
    if article is None:
        # The id is not repeated: answers never echo what the client sent.
        raise HTTPException(404, "no article is stored under this id; PUT /v1/articles/{id} first")
    return ArticleOut(**vars(article))


# Feedback


class FeedbackArticle(Strict):
    title: str = Field(..., min_length=1, max_length=MAX_TITLE_CHARS)
    body: str = Field("", max_length=MAX_BODY_CHARS)


class FeedbackRequest(Strict):
    comment_id: Id
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S")
    label: str = Field(
        ...,
        max_length=64,
        description="the correct label: one of the serving model's labels (`labels` in GET /v1/model; "
        f"the shipped model's are {', '.join(LABELS)})",
        examples=list(LABELS),
    )
    moderator_id: Id | None = Field(
        None,
        description="leave out: the moderator is the API key's name; if given, it must equal that name "
        f'(with no keys configured it is recorded as given, or as "{OPEN_MODE_MODERATOR}")',
    )
    article_id: Id | None = Field(None, description="a stored article (PUT /v1/articles/{id}); or give `article`")
    article: FeedbackArticle | None = Field(None, description="the article inline, when it is not stored")
    site_id: Id | None = None

    _text = field_validator("text")(_not_blank)

    @field_validator("label")
    @classmethod
    def label_shape(cls, value: str) -> str:
        # Which labels are known depends on the serving model: the route checks that (known_label).
        label = value.strip().lower()
        if not LABEL_PATTERN.fullmatch(label):
            raise ValueError(f"not a label: a label is {LABEL_RULE}")
        return label

    @model_validator(mode="after")
    def has_article(self) -> "FeedbackRequest":
        if self.article_id is None and self.article is None:
            raise ValueError(
                "give article_id (of a stored article) or article {title, body}: training needs the article"
            )
        return self


class FeedbackCreated(BaseModel):
    id: int


@data_router.post(
    "/v1/feedback",
    status_code=201,
    responses={422: {"model": ErrorResponse, "description": "invalid field or unknown article_id"}, **_400, **_503},
)
def post_feedback(body: FeedbackRequest, store: StoreDep, caller: FeedbackScope, loaded: ModelDep) -> FeedbackCreated:
    """Record a moderator's correct label for a comment, under the API key's name. Needs the `feedback`
    scope. Stored (and durable) before the 201 is sent."""
    known_label(body.label, loaded)
    moderator = moderator_of(caller, body.moderator_id)
    with storage("store the feedback"):
        if body.article is not None:
            title, text = body.article.title, body.article.body
        else:
            stored = store.get_article(body.article_id or "")
            if stored is None:
                raise HTTPException(
                    422,
                    [
                        {
                            "loc": ["body", "article_id"],
                            "msg": "no article is stored under this article_id; PUT /v1/articles/{id} first "
                            "or send article {title, body} with the feedback",
                            "type": "value_error",
                        }
                    ],
                )
            title, text = stored.title, stored.body
        item = FeedbackIn(
            comment_id=body.comment_id,
            text=body.text,
            label=body.label,
            moderator_id=moderator,
            article_id=body.article_id,
            article_title=title,
            article_body=text,
            site_id=body.site_id,
        )
        return FeedbackCreated(id=store.add_feedback(item))


def known_label(label: str, loaded: LoadedModel) -> str:
    """`label` if the serving model predicts it, else a 422 naming its labels: feedback under a label no
    model here was trained on would be refused by training.fit later, far from whoever sent it."""
    labels = list(loaded.metadata["labels"])
    if label not in labels:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "label"],
                    "msg": f"unknown label; the serving model predicts {', '.join(labels)}",
                    "type": "value_error",
                }
            ],
        )
    return label


def moderator_of(caller: Caller, claimed: str | None) -> str:
    """Who is recorded as the moderator: the key's name, never what the body claims (a key embedded in a
    form must not write labels in someone else's name). A body moderator_id that differs is refused rather
    than dropped, so a client that meant something else by it finds out at once."""
    if caller.name is None:  # open mode: no key to name anyone, and every local process is trusted
        return claimed or OPEN_MODE_MODERATOR
    if claimed is not None and claimed != caller.name:
        msg = (
            f"moderator_id must be left out or equal this API key's name ({caller.name!r}): the moderator is "
            "recorded from the key; give each moderator or tool its own named key"
        )
        raise HTTPException(422, [{"loc": ["body", "moderator_id"], "msg": msg, "type": "value_error"}])
    return caller.name


@admin_data_router.get(
    "/v1/feedback/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one training row per line"}, **_503},
)
def export_feedback(store: StoreDep) -> StreamingResponse:
    """Feedback as JSONL in the training format (`python -m training.fit --data FILE` reads it); a comment
    labelled more than once appears once, with its latest label."""
    rows = training_rows(store)
    with storage("read feedback"):
        first = next(rows, None)  # a database that is down fails here, before the 200 goes out

    def lines() -> Iterator[bytes]:
        if first is None:
            return
        yield _jsonl(first)
        for row in rows:
            yield _jsonl(row)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'},
    )


def _jsonl(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode()


# Audit log


class AuditOut(BaseModel):
    id: int | None
    comment_id: str
    site_id: str | None
    model_version: str
    scores: dict[str, float]
    label: str
    action: str
    decided_action: str
    policy_version: str
    shadow: bool
    reasons: list[Any]
    text: str | None
    created_at: datetime | None


class AuditList(BaseModel):
    comment_id: str
    entries: list[AuditOut]


@admin_data_router.get("/v1/audit/{comment_id:id}", responses=_503, dependencies=[Utf8Path])
def list_audit(comment_id: PathId, store: StoreDep) -> AuditList:
    """Every decision recorded for the comment, oldest first; an unknown id has an empty list."""
    with storage("read the audit log"):
        entries: list[AuditEntry] = store.list_audit(comment_id)
    return AuditList(comment_id=comment_id, entries=[AuditOut(**vars(e)) for e in entries])
