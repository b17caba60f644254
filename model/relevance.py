"""How related a comment is to its article: the evidence that separates engagement from generic praise.

"Great article, thanks for sharing!" fits under any article and names nothing in it; a substantive comment
is close in meaning to the article and reuses its specific terms (names, places, numbers). Features:

    sim_article   cosine of the comment's embedding to the article's (title + body, embedded as a document:
                  its first 128 word pieces, however short the model cuts comments)
    sim_title     cosine of the comment's embedding to the title's
    shared_idf    share of the comment's content-word IDF mass that also occurs in the article
    shared_terms  log(1 + number of distinct specific words the comment shares with the article)
    has_article   1 when the comment came with an article

A comment without an article gets the training mean of each feature (it is neither on- nor off-topic as far
as the model can tell) and has_article = 0, so the linear model can learn a separate offset for that case.
"""

import math
import re
from collections import Counter
from functools import lru_cache

import numpy as np

from .embeddings import Embedder
from .inputs import Comment
from .normalize import MARKERS
from .scaling import standardize

RELEVANCE_NAMES: tuple[str, ...] = ("sim_article", "sim_title", "shared_idf", "shared_terms", "has_article")
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def ignored_words() -> frozenset[str]:
    """Words that are never specific: English stop words and normalisation markers.

    scikit-learn's stop list, imported on first use: a portable model (model/portable) carries its own copy
    of this set and scores without scikit-learn.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | frozenset(MARKERS)


def content_words(text: str, ignored: frozenset[str] | None = None) -> set[str]:
    """Lowercased words that can be specific: not `ignored` (default ignored_words()), and numbers or words
    of 3+ letters."""
    skip = ignored_words() if ignored is None else ignored
    return {w for w in _WORD.findall(text.lower()) if w not in skip and (len(w) >= 3 or w.isdigit())}


@lru_cache(maxsize=1024)
def _article_words(text: str, ignored: frozenset[str]) -> frozenset[str]:
    """content_words of an article, remembered: a busy article's text arrives with every one of its comments."""
    return frozenset(content_words(text, ignored))


def _title(comment: Comment) -> str:
    return comment.article_title or article_text(comment)


def article_text(comment: Comment) -> str:
    return f"{comment.article_title}\n{comment.article_body}".strip()


def raw_relevance(
    embedder: Embedder,
    comments: list[Comment],
    normalized: list[str],
    idf: dict[str, float],
    n_docs: int,
    ignored: frozenset[str],
) -> np.ndarray:
    """The RELEVANCE_NAMES values before filling and scaling; a comment without an article gets zeros."""
    out = np.zeros((len(comments), len(RELEVANCE_NAMES)))
    has = [i for i, c in enumerate(comments) if c.has_article]
    if not has:
        return out
    texts = embedder.embed([normalized[i] for i in has])
    articles = embedder.embed([article_text(comments[i]) for i in has], document=True)
    titles = embedder.embed([_title(comments[i]) for i in has], document=True)
    out[has, 0] = (texts * articles).sum(axis=1)
    out[has, 1] = (texts * titles).sum(axis=1)
    for i in has:
        article_words = _article_words(article_text(comments[i]), ignored)
        out[i, 2:4] = word_overlap(content_words(normalized[i], ignored), article_words, idf, n_docs)
    out[has, 4] = 1.0
    return out


def word_overlap(
    words: set[str], article_words: frozenset[str], idf: dict[str, float], n_docs: int
) -> tuple[float, float]:
    """(shared_idf, shared_terms) of a comment's content words against its article's."""
    if not words:
        return 0.0, 0.0
    unseen = math.log(1 + n_docs) + 1.0  # a word never seen in training is as specific as it gets
    weight = {w: idf.get(w, unseen) for w in words}
    shared = words & article_words
    specific = [w for w in shared if weight[w] > 2.0]
    return sum(weight[w] for w in shared) / sum(weight.values()), math.log1p(len(specific))


def fill_missing(raw: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """`raw` with the `neutral` values in the rows of comments without an article (has_article = 0)."""
    filled = raw.copy()
    missing = filled[:, -1] == 0.0
    filled[np.ix_(missing, np.arange(filled.shape[1] - 1))] = neutral
    return filled


class Relevance:
    """The RELEVANCE_NAMES features, standardised; needs the shared Embedder of its classifier."""

    name = "relevance"
    needs_embedder = True

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def fit(self, comments: list[Comment], normalized: list[str]) -> "Relevance":
        from sklearn.preprocessing import StandardScaler

        # IDF over every distinct text seen in training: a word used under every article is not specific.
        docs = [content_words(t) for t in normalized] + [content_words(a) for a in {article_text(c) for c in comments}]
        df = Counter(w for d in docs for w in d)
        self.n_docs_ = len(docs)
        self.idf_ = {w: math.log((1 + self.n_docs_) / (1 + n)) + 1.0 for w, n in df.items()}
        raw = self._raw(comments, normalized)
        with_article = raw[:, -1] == 1.0
        # Neutral value for article-less comments: what an average comment with an article scores.
        self.neutral_ = raw[with_article, :-1].mean(axis=0) if with_article.any() else np.zeros(raw.shape[1] - 1)
        self.scaler_ = StandardScaler().fit(self._fill(raw))
        return self

    def transform(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return standardize(self.scaler_, self._fill(self._raw(comments, normalized)))

    def feature_names(self) -> list[str]:
        return [f"relevance:{n}" for n in RELEVANCE_NAMES]

    def texts_to_embed(self, comments: list[Comment], normalized: list[str]) -> list[str]:
        """What transform will embed (see model.features.transform_blocks, which embeds it ahead)."""
        has = [i for i, c in enumerate(comments) if c.has_article]
        # Articles and titles are embedded as documents (_raw), which embedding ahead does not do; they are
        # few, and remembered after their first comment.
        return [normalized[i] for i in has]

    def _fill(self, raw: np.ndarray) -> np.ndarray:
        return fill_missing(raw, self.neutral_)

    def _raw(self, comments: list[Comment], normalized: list[str]) -> np.ndarray:
        return raw_relevance(self.embedder, comments, normalized, self.idf_, self.n_docs_, ignored_words())
