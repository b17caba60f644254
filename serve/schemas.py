"""Request and response bodies. Limits live here so a violation is a 422 that names the field."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Module-level limits mirror Settings defaults; the OpenAPI schema documents them.
MAX_COMMENTS = 256
MAX_TEXT_CHARS = 10_000
MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 100_000
MAX_ID_CHARS = 256


class Strict(BaseModel):
    # Unknown fields are refused: a misspelt "artcle" must not silently lose the article context.
    model_config = ConfigDict(extra="forbid")


class ArticleIn(Strict):
    title: str = Field("", max_length=MAX_TITLE_CHARS)
    body: str = Field("", max_length=MAX_BODY_CHARS)
    url: str | None = Field(None, max_length=2_000)


class CommentIn(Strict):
    id: str | None = Field(None, max_length=MAX_ID_CHARS, description="echoed back in the result")
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS)
    article: ArticleIn | None = Field(None, description="the article this comment sits under")

    @field_validator("text")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must contain at least one non-whitespace character")
        return v


class PredictRequest(Strict):
    comments: Annotated[list[CommentIn], Field(min_length=1, max_length=MAX_COMMENTS)]
    article: ArticleIn | None = Field(None, description="article shared by every comment that has none of its own")


Scores = dict[str, float]


class PredictResult(BaseModel):
    id: str | None
    label: str
    scores: Scores


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model: ModelRef
    results: list[PredictResult]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str
