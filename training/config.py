"""Training configuration: one block of defaults, overridable from a TOML file and the command line."""

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    # Where the default corpus lives; `make run` trains on it when models/ is empty.
    data: list[str] = field(default_factory=lambda: ["data"])
    out: str = "models"
    name: str = "comment-moderation"
    seed: int = 0
    # Share of articles held out to measure the model; by article so no article is on both sides.
    test_size: float = 0.2
    # After measuring, refit on every row: the shipped model sees all articles, the metrics stay honest
    # because they come from the same recipe trained without the held-out ones.
    refit_full: bool = True
    # Feature blocks (model.features.BLOCKS). n-grams catch known wording, signals catch contact spam,
    # the sentence embedding catches new phrasings, relevance (to the article) separates engagement from
    # generic praise. Held-out macro-F1 on data/ (7,253 comments): 0.958 with embedding+relevance.
    # "lexicon" (hand-written insult/profanity/threat lists, model/lexicon.py) is opt-in: see
    # training/configs/lexicon.toml for what it gained and cost when measured.
    features: list[str] = field(default_factory=lambda: ["word", "char", "signals", "embedding", "relevance"])
    # Sentence-embedding weights: "" is the bundled all-MiniLM-L6-v2 (sha256 pinned in model/embeddings.py);
    # or a local sentence-transformers folder, with embedding_sha256 set to its weights' sha256 or "unverified".
    embedding_model: str = ""
    embedding_sha256: str = ""
    # The public recipe: a folder of public datasets (../shared/data/public) to train auxiliary toxic / spam /
    # constructive detectors whose scores become features; "" trains on `data` alone (the default model).
    public: str = ""
    # Public datasets left out of the detectors (leave-one-dataset-out evaluation in bench/quality.py).
    public_exclude: list[str] = field(default_factory=list)
    # Rows drawn (seeded) per public set for the detectors: sets weigh the same in their fit anyway.
    public_max_rows: int = 6000
    # Mild regularisation: the corpus is small, but n-gram weights need room for rare insult spellings.
    C: float = 4.0
    # Out-of-fold logits for temperature scaling; 5 folds keep every label in every fold on small data.
    calibration_folds: int = 5
    skip_invalid: bool = False

    @classmethod
    def from_toml(cls, path: Path) -> "TrainConfig":
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ValueError(f"config file {path} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config file {path} is not valid TOML: {e}") from e
        return cls().updated(raw, origin=str(path))

    def updated(self, values: dict[str, Any], origin: str = "arguments") -> "TrainConfig":
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{origin}: unknown config key(s) {unknown}; expected some of {sorted(known)}")
        merged = asdict(self)
        for key, value in values.items():
            default = merged[key]
            if isinstance(default, list) and isinstance(value, str):
                value = [value]
            if (
                default is not None
                and not isinstance(value, type(default))
                and not (isinstance(default, float) and isinstance(value, int))
            ):
                raise ValueError(f"{origin}: {key} must be {type(default).__name__}, found {value!r}")
            merged[key] = value
        if not 0.0 < float(merged["test_size"]) < 1.0:
            raise ValueError(f"{origin}: test_size must be between 0 and 1, found {merged['test_size']}")
        return TrainConfig(**merged)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
