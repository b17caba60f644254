"""Readers for the public datasets in ../shared/data/public, and the auxiliary detectors trained on them.

Each reader returns PublicSet objects: texts with a 0/1 answer to ONE question (toxic? spam? constructive?),
never one of our three labels; see model/auxiliary.py for why they train detectors rather than rows of the
3-way model. Quirks handled here come from each dataset's SOURCE.txt:

    youtube_spam   DATE and AUTHOR dropped (DATE leaks the label in Eminem), HTML unescaped, U+FEFF
                   stripped, duplicate texts dropped (first occurrence kept; 197 are repeated spam)
    olid           official train / test split, TSV read with quoting off, CRLF, header line in labels
    sfu_ctc        constructive: yes/no (not_sure dropped); toxic: most popular answer >= 2 (mildly+)
    davidson       toxic = hate speech or offensive (class 0 or 1); HTML entities unescaped
    tweeteval_hate train+val for training, test for evaluation (hate against immigrants and women)
    wiki_toxicity  a test set only (identity-term subset of Wikipedia Talk Labels test split)
"""

import csv
import html
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.auxiliary import AuxiliaryDetectors, DetectorData
from model.embeddings import Embedder, EmbedderConfig
from model.features import ARTICLE_BLOCKS, BLOCKS
from model.normalize import normalize

from .config import TrainConfig

# Name -> licence as stated in its SOURCE.txt (recorded in a model's metadata when it trains on the set).
LICENCES: dict[str, str] = {
    "youtube_spam": "no licence stated (UCI lists CC BY 4.0); cite Alberto et al., ICMLA 2015",
    "olid": "no licence stated in OLID README (citation request); hosting repo CC BY 4.0; Twitter content",
    "sfu_ctc": "CC BY-NC-SA 4.0 (non-commercial, share-alike)",
    "davidson_hate_offensive": "MIT (Davidson et al. 2017); Twitter content",
    "tweeteval_hate": "released without restrictions (TweetEval); Twitter content",
    "wiki_toxicity_testset": "Apache-2.0 (conversationai repo); source data Wikipedia Talk Labels",
}
DATASETS = tuple(LICENCES)
# Rows drawn per public set for the detectors. Sets weigh the same in the fit anyway (model/auxiliary.py),
# so more rows of a 25k-tweet set buy little, and embedding them costs minutes on 2 cores.
MAX_ROWS_PER_SET = 6000
_TAGS = re.compile(r"<[^>]+>")


class PublicDataError(ValueError):
    """A public dataset folder is missing or not in the layout its SOURCE.txt describes."""


@dataclass
class PublicSet:
    dataset: str
    kind: str  # "toxic" | "spam" | "constructive"
    split: str  # "train" (may be used for training), "test" (evaluation only), "all" (either, not both)
    texts: list[str]
    labels: list[int]
    titles: list[str] = field(default_factory=list)  # article titles where the dataset has them (SFU)
    groups: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.kind}/{self.split}"


def _clean(text: str) -> str:
    return _TAGS.sub(" ", html.unescape(text)).replace("\ufeff", "").strip()


def _csv(path: Path, **kwargs: Any) -> list[dict[str, str]]:
    if not path.is_file():
        raise PublicDataError(f"{path} not found; expected the layout described in {path.parent}/SOURCE.txt")
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, **kwargs))


def load_youtube_spam(root: Path) -> list[PublicSet]:
    texts, labels, groups, seen = [], [], [], set()
    files = sorted((root / "youtube_spam").glob("Youtube0*.csv"))
    if len(files) != 5:
        raise PublicDataError(f"{root / 'youtube_spam'}: expected 5 Youtube0*.csv files, found {len(files)}")
    for path in files:
        for row in _csv(path):
            text = _clean(row["CONTENT"])
            if not text or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            labels.append(int(row["CLASS"]))
            groups.append(path.stem)
    return [PublicSet("youtube_spam", "spam", "all", texts, labels, groups=groups)]


def _olid_tsv(path: Path) -> list[dict[str, str]]:
    # Tweets hold raw double quotes: quoting off, so a quote never swallows the next line.
    return _csv(path, delimiter="\t", quoting=csv.QUOTE_NONE)


def olid_test(root: Path) -> list[tuple[str, str, int]]:
    """OLID's official test tweets as (id, tweet, 1 if offensive), their labels joined from labels-levela.csv."""
    base = root / "olid"
    test = _olid_tsv(base / "testset-levela.tsv")
    gold = {}
    for line in (base / "labels-levela.csv").read_text(encoding="utf-8").splitlines():
        ident, _, label = line.strip().partition(",")
        if ident.isdigit():  # skips the header line the hosting repo added
            gold[ident] = label
    missing = [r["id"] for r in test if r["id"] not in gold]
    if missing:
        raise PublicDataError(f"{base}/labels-levela.csv lacks labels for test ids {missing[:5]}")
    return [(r["id"], r["tweet"], int(gold[r["id"]] == "OFF")) for r in test]


def load_olid(root: Path) -> list[PublicSet]:
    train = _olid_tsv(root / "olid" / "olid-training-v1.0.tsv")
    test = olid_test(root)
    return [
        PublicSet("olid", "toxic", "train", [r["tweet"] for r in train], [int(r["subtask_a"] == "OFF") for r in train]),
        PublicSet("olid", "toxic", "test", [t for _, t, _ in test], [y for _, _, y in test]),
    ]


def load_sfu(root: Path) -> list[PublicSet]:
    rows = _csv(root / "sfu_ctc" / "SFU_constructiveness_toxicity.csv")
    rows = [r for r in rows if r["comment"].strip()]
    constructive = [r for r in rows if r["is_constructive"] in ("yes", "no")]
    return [
        PublicSet(
            "sfu_ctc",
            "constructive",
            "all",
            [r["comment"].strip() for r in constructive],
            [int(r["is_constructive"] == "yes") for r in constructive],
            titles=[r["title"] for r in constructive],
            groups=[r["url"] for r in constructive],
        ),
        PublicSet(
            "sfu_ctc",
            "toxic",
            "all",
            [r["comment"].strip() for r in rows],
            [int(int(r["is_toxic_popular_answer_1"]) >= 2) for r in rows],
            titles=[r["title"] for r in rows],
            groups=[r["url"] for r in rows],
        ),
    ]


def load_davidson(root: Path) -> list[PublicSet]:
    rows = _csv(root / "davidson_hate_offensive" / "labeled_data.csv")
    return [
        PublicSet(
            "davidson_hate_offensive",
            "toxic",
            "all",
            [_clean(r["tweet"]) for r in rows],
            [int(r["class"] in ("0", "1")) for r in rows],
        )
    ]


def load_tweeteval_hate(root: Path) -> list[PublicSet]:
    base = root / "tweeteval_hate"

    def read(split: str) -> tuple[list[str], list[int]]:
        texts = (base / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = [int(v) for v in (base / f"{split}_labels.txt").read_text(encoding="utf-8").split()]
        if len(texts) != len(labels):
            raise PublicDataError(f"{base}: {split}_text.txt has {len(texts)} lines, labels {len(labels)}")
        return [t.strip() for t in texts], labels

    train, val, test = read("train"), read("val"), read("test")
    # Test tweets also in train (known HatEval duplication) are dropped so evaluation is unseen text.
    seen = set(train[0]) | set(val[0])
    test_kept = [(t, y) for t, y in zip(*test, strict=True) if t not in seen]
    return [
        PublicSet("tweeteval_hate", "toxic", "train", train[0] + val[0], train[1] + val[1]),
        PublicSet("tweeteval_hate", "toxic", "test", [t for t, _ in test_kept], [y for _, y in test_kept]),
    ]


def load_wiki_toxicity(root: Path) -> list[PublicSet]:
    rows = _csv(root / "wiki_toxicity_testset" / "toxicity_nonfuzzed_testset.csv")
    texts = [r["comment"].replace("NEWLINE_TOKEN", "\n").strip() for r in rows]
    return [PublicSet("wiki_toxicity_testset", "toxic", "all", texts, [int(r["toxic"] == "True") for r in rows])]


LOADERS = {
    "youtube_spam": load_youtube_spam,
    "olid": load_olid,
    "sfu_ctc": load_sfu,
    "davidson_hate_offensive": load_davidson,
    "tweeteval_hate": load_tweeteval_hate,
    "wiki_toxicity_testset": load_wiki_toxicity,
}


def load_public(root: str | Path, exclude: tuple[str, ...] = ()) -> list[PublicSet]:
    root = Path(root)
    if not root.is_dir():
        raise PublicDataError(f"public data folder {root} does not exist; pass --public ../shared/data/public")
    unknown = sorted(set(exclude) - set(LOADERS))
    if unknown:
        raise PublicDataError(f"unknown public dataset(s) {unknown}; expected some of {sorted(LOADERS)}")
    present = [name for name in LOADERS if name not in exclude and (root / name).is_dir()]
    if not present:
        raise PublicDataError(f"{root} holds none of the public datasets {sorted(LOADERS)}")
    return [s for name in present for s in LOADERS[name](root)]


def training_sets(sets: list[PublicSet]) -> list[PublicSet]:
    """What detectors may learn from: every split except the official test splits."""
    return [s for s in sets if s.split != "test"]


def capped(s: PublicSet, max_rows: int, seed: int = 0) -> PublicSet:
    """At most `max_rows` rows of `s`, drawn at random with a fixed seed (label shares kept on average)."""
    if len(s.texts) <= max_rows:
        return s
    keep = sorted(random.Random(f"{seed}:{s.name}").sample(range(len(s.texts)), max_rows))
    pick = lambda xs: [xs[i] for i in keep] if xs else []  # noqa: E731
    return PublicSet(s.dataset, s.kind, s.split, pick(s.texts), pick(s.labels), pick(s.titles), pick(s.groups))


def fit_detectors(
    root: str | Path, embedder: Embedder, exclude: tuple[str, ...] = (), max_rows: int = MAX_ROWS_PER_SET
) -> tuple[AuxiliaryDetectors, list[dict[str, Any]]]:
    """Train the toxic / spam / constructive detectors; return them with the provenance to record."""
    sets = [capped(s, max_rows) for s in training_sets(load_public(root, exclude))]
    data: dict[str, DetectorData] = {}
    for s in sets:
        rows = data.setdefault(s.kind, DetectorData())
        rows.texts += [normalize(t) for t in s.texts]
        rows.labels += s.labels
        rows.datasets += [s.dataset] * len(s.texts)
    provenance = [
        {"dataset": s.dataset, "kind": s.kind, "split": s.split, "rows": len(s.texts), "licence": LICENCES[s.dataset]}
        for s in sets
    ]
    return AuxiliaryDetectors(embedder).fit(data, provenance), provenance


def prepare_semantic(
    config: TrainConfig, log: Callable[[str], None]
) -> tuple[TrainConfig, Embedder, AuxiliaryDetectors | None, dict[str, Any]]:
    """The embedder (and, for the public recipe, detectors) a training run shares, plus their metadata.

    Returns the config with "public" appended to its features when public data is given.
    """
    embedder = Embedder(
        EmbedderConfig(
            path=config.embedding_model,
            sha256=config.embedding_sha256,
            precision=config.embedding_precision,
            max_length=config.embedding_max_length,
            truncation=config.embedding_truncation,
        )
    )
    metadata: dict[str, Any] = {}
    uses_embedder = any(getattr(BLOCKS[n], "needs_embedder", False) for n in config.features if n in BLOCKS)
    auxiliary = None
    if config.public:
        log(f"public recipe: training detectors on {config.public} (excluding {config.public_exclude or 'none'})...")
        auxiliary, provenance = fit_detectors(
            config.public, embedder, tuple(config.public_exclude), max_rows=config.public_max_rows
        )
        metadata["public_data"] = {"folder": config.public, "detectors": list(auxiliary.kinds_), "sets": provenance}
        log(f"detectors: {', '.join(auxiliary.kinds_)} from {len(provenance)} public sets")
        if "public" not in config.features:
            config = config.updated({"features": [*config.features, "public"]})
        uses_embedder = True
    if uses_embedder:
        metadata["embedding_model"] = embedder.describe()
    metadata["needs_article"] = any(n in ARTICLE_BLOCKS for n in config.features)
    return config, embedder, auxiliary, metadata
