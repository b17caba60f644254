"""Request and response bodies. Limits live here so a violation is a 422 that names the field."""

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

# Module-level limits mirror Settings defaults; the OpenAPI schema documents them.
MAX_COMMENTS = 256
MAX_TEXT_CHARS = 10_000
MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 100_000
MAX_ID_CHARS = 256

# Ids go into String(MAX_ID_CHARS) columns, which PostgreSQL refuses NUL in; a line break in an id would
# forge lines in the log. Refused where ids enter, with the field named, instead of as a 500 at the write.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same rule in the OpenAPI schema, so clients and fuzzers know it.
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


def no_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"ids must not contain control characters such as NUL or a line break (one at position "
            f"{found.start()}); remove it"
        )
    return value


_ID_CHECK = AfterValidator(no_control_characters)
# A required id, and an optional one (which older clients may send as ""); the length is checked first.
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, json_schema_extra={"pattern": ID_PATTERN}), _ID_CHECK]
AnyId = Annotated[str, Field(max_length=MAX_ID_CHARS, json_schema_extra={"pattern": ID_PATTERN}), _ID_CHECK]


class Strict(BaseModel):
    # Unknown fields are refused: a misspelt "artcle" must not silently lose the article context.
    model_config = ConfigDict(extra="forbid")


class ArticleIn(Strict):
    title: str = Field("", max_length=MAX_TITLE_CHARS)
    body: str = Field("", max_length=MAX_BODY_CHARS)
    url: str | None = Field(None, max_length=2_000)


class CommentIn(Strict):
    id: AnyId | None = Field(None, description="echoed back in the result")
    # The pattern documents in the schema what the validator below enforces: not only whitespace.
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S")
    article: ArticleIn | None = Field(None, description="the article this comment sits under")
    article_id: AnyId | None = Field(
        None, description="a stored article (PUT /v1/articles/{id}); with `article` too, it only identifies it"
    )

    @field_validator("text")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must contain at least one non-whitespace character")
        return v


class PredictRequest(Strict):
    comments: Annotated[list[CommentIn], Field(min_length=1, max_length=MAX_COMMENTS)]
    article: ArticleIn | None = Field(None, description="article shared by every comment that has none of its own")
    article_id: AnyId | None = Field(None, description="stored article shared by comments that name none of their own")
    site_id: AnyId | None = Field(None, description="selects the site's policy")
    explain: StrictBool = Field(False, description="add per-result evidence: phrases per label and fired signals")


Scores = dict[str, float]


class Phrase(BaseModel):
    phrase: str
    weight: float


class Explanation(BaseModel):
    labels: dict[str, list[Phrase]] = Field(description="per label, the phrases that pushed it up most")
    signals: dict[str, Any] = Field(description="signals that fired, with their values")


class PredictResult(BaseModel):
    id: str | None
    label: str
    scores: Scores
    action: str = Field(description="approve, hold or reject; always approve in shadow mode")
    reasons: list[str]
    signals: dict[str, Any] = Field(description="signals that fired: links, phones, near_duplicates, ...")
    explanation: Explanation | None = None


class ModelRef(BaseModel):
    name: str
    version: str


class PolicyRef(BaseModel):
    version: str
    shadow: bool


class PredictResponse(BaseModel):
    model: ModelRef
    policy: PolicyRef
    results: list[PredictResult]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str
