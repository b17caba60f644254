"""The embedded corpus in data/: schema, links, label shares, duplicates and near-duplicates."""

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from model.labels import LABELS

from .conftest import ROOT

DATA = ROOT / "data"
SHARE_BOUNDS = {"substantive": (0.35, 0.45), "spam": (0.25, 0.35), "toxic": (0.25, 0.35)}
NEAR_DUP_JACCARD = 0.8


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return read_jsonl(DATA / "articles.jsonl")


@pytest.fixture(scope="module")
def comments() -> list[dict]:
    return read_jsonl(DATA / "comments.jsonl")


def test_article_schema_and_coverage(articles):
    assert len(articles) >= 80
    assert len({a["area"] for a in articles}) >= 12
    assert len({a["article_id"] for a in articles}) == len(articles)
    for a in articles:
        assert {"article_id", "area", "title", "topic", "body"} <= set(a), a.get("article_id")
        paragraphs = [p for p in a["body"].split("\n\n") if p.strip()]
        assert 2 <= len(paragraphs) <= 5, (a["article_id"], len(paragraphs))
        assert a["title"].strip() and a["topic"].strip()


def test_comment_schema_and_links(comments, articles):
    ids = {a["article_id"] for a in articles}
    assert len(comments) >= 6000
    assert len({c["id"] for c in comments}) == len(comments)
    for c in comments:
        assert c["article_id"] in ids, c["id"]
        assert c["label"] in LABELS, c["id"]
        assert isinstance(c["text"], str) and c["text"].strip(), c["id"]
        assert isinstance(c["copy_paste"], bool)


def test_label_shares(comments):
    counts = Counter(c["label"] for c in comments)
    for label, (lo, hi) in SHARE_BOUNDS.items():
        share = counts[label] / len(comments)
        assert lo <= share <= hi, f"{label}: {share:.1%} outside {lo:.0%}-{hi:.0%}"


def test_every_article_has_two_labels(comments):
    per_article = defaultdict(set)
    for c in comments:
        per_article[c["article_id"]].add(c["label"])
    thin = {a: sorted(labels) for a, labels in per_article.items() if len(labels) < 2}
    assert not thin, thin


def test_exact_duplicates_only_deliberate(comments):
    counts = Counter(c["text"] for c in comments if not c["copy_paste"])
    dupes = [t for t, n in counts.items() if n > 1]
    assert not dupes, dupes[:10]
    pasted = Counter(c["text"] for c in comments if c["copy_paste"])
    assert pasted and min(pasted.values()) >= 2, "copy-paste spam must appear under several articles"


def shingles(text: str) -> frozenset:
    words = re.findall(r"\w+", text.lower())
    if not words:
        # Emoji-only and punctuation-only comments compare by their exact characters.
        return frozenset([("<raw>", text.strip())])
    if len(words) < 3:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def near_duplicate_share(texts: list[str], threshold: float) -> tuple[float, list[tuple[str, str]]]:
    """Share of texts with a near-duplicate (Jaccard >= threshold), by exact prefix filtering.

    Two sets with Jaccard >= t must share a token among the rarest |A| - ceil(t|A|) + 1 of each, so only
    pairs that meet in those prefixes are compared.
    """
    sets = [shingles(t) for t in texts]
    freq = Counter(s for st in sets for s in st)
    index: dict = defaultdict(list)
    flagged: set[int] = set()
    examples = []
    for i, st in enumerate(sets):
        ordered = sorted(st, key=lambda s: (freq[s], s))
        prefix = ordered[: len(ordered) - int(threshold * len(ordered) - 1e-9) + 1]
        candidates = {j for s in prefix for j in index[s]}
        for j in candidates:
            other = sets[j]
            if len(st & other) / len(st | other) >= threshold:
                flagged.update((i, j))
                examples.append((texts[i], texts[j]))
        for s in prefix:
            index[s].append(i)
    return len(flagged) / max(len(texts), 1), examples


def test_near_duplicate_checker_finds_planted_pair():
    share, examples = near_duplicate_share(
        [
            "the council vote on the library was rushed",
            "The council vote on the library was rushed!",
            "unrelated words here",
        ],
        NEAR_DUP_JACCARD,
    )
    assert share == pytest.approx(2 / 3) and len(examples) == 1


def test_near_duplicates_under_five_percent(comments):
    texts = [c["text"] for c in comments if not c["copy_paste"]]
    share, examples = near_duplicate_share(texts, NEAR_DUP_JACCARD)
    assert share < 0.05, f"{share:.1%} near-duplicates, e.g. {examples[:5]}"


def test_datasheet_counts_match(comments):
    """data/README.md states the label counts; they must be the corpus's real counts."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for label, n in Counter(c["label"] for c in comments).items():
        assert re.search(rf"\|\s*{label}\s*\|\s*{n:,}\s*\|", readme), (
            f"data/README.md lacks the row | {label} | {n:,} |"
        )
