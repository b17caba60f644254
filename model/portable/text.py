"""The terms the model's "word" and "char" blocks cut a text into, without scikit-learn.

A portable model scores without scikit-learn, and its vocabularies only mean what they meant in training if
a text is cut into the very same terms as TfidfVectorizer cut it (scikit-learn 1.9; BSD-3-Clause). This
module reproduces that behaviour for the settings model/features.py uses (input "content", no accent
stripping, no stop words, no custom preprocessor or tokenizer); the export refuses any other setting
(model/portable/export.py), and tests/test_portable.py compares the terms with scikit-learn's own.
"""

import re
from collections.abc import Callable
from functools import partial

# Runs of white space count as one space before character n-grams, as in scikit-learn.
_WHITE_SPACES = re.compile(r"\s\s+")
ANALYZERS = ("word", "char_wb")


def word_ngrams(doc: str, token_pattern: re.Pattern[str], ngram_range: tuple[int, int], lowercase: bool) -> list[str]:
    """Tokens found by `token_pattern`, then every run of min_n..max_n of them joined by one space."""
    tokens = token_pattern.findall(doc.lower() if lowercase else doc)
    min_n, max_n = ngram_range
    terms = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), max_n + 1):
        terms.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return terms


def char_wb_ngrams(doc: str, ngram_range: tuple[int, int], lowercase: bool) -> list[str]:
    """Character n-grams inside each whitespace-separated word, padded with one space at each end."""
    doc = _WHITE_SPACES.sub(" ", doc.lower() if lowercase else doc)
    min_n, max_n = ngram_range
    terms: list[str] = []
    for word in doc.split():
        padded = f" {word} "
        for n in range(min_n, max_n + 1):
            if n >= len(padded):  # a word no longer than n counts once, whole, and longer n add nothing
                terms.append(padded)
                break
            terms.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return terms


def analyzer(
    kind: str, ngram_range: tuple[int, int], lowercase: bool, token_pattern: str | None
) -> Callable[[str], list[str]]:
    """The function that turns one text into its terms, for analyzer `kind` (one of ANALYZERS)."""
    if kind == "word":
        pattern = re.compile(token_pattern or "")
        if pattern.groups > 1:
            raise ValueError(f"token_pattern {token_pattern!r} has {pattern.groups} groups; at most 1 is allowed")
        return partial(word_ngrams, token_pattern=pattern, ngram_range=ngram_range, lowercase=lowercase)
    if kind == "char_wb":
        return partial(char_wb_ngrams, ngram_range=ngram_range, lowercase=lowercase)
    raise ValueError(f"unknown analyzer {kind!r}; expected one of {', '.join(ANALYZERS)}")
