"""What the model reads: a comment and, when known, the article it sits under."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    article_title: str = ""
    article_body: str = ""

    @property
    def has_article(self) -> bool:
        return bool(self.article_title or self.article_body)


def as_comment(item: "Comment | str | Mapping[str, object]") -> Comment:
    """Accept a Comment, a bare string, or a mapping with `text` and optional article fields."""
    if isinstance(item, Comment):
        return item
    if isinstance(item, str):
        return Comment(item)
    if isinstance(item, Mapping):
        text = item.get("text")
        if not isinstance(text, str):
            raise TypeError(f"a comment needs a string 'text'; found {type(text).__name__}")
        return Comment(text, str(item.get("article_title") or ""), str(item.get("article_body") or ""))
    raise TypeError(f"expected a Comment, str or mapping with 'text'; found {type(item).__name__}")


def as_comments(items: Iterable["Comment | str | Mapping[str, object]"]) -> list[Comment]:
    return [as_comment(item) for item in items]
