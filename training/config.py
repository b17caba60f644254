"""Training configuration: one block of defaults, overridable from a TOML file and the command line."""

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from model.embeddings import TRUNCATIONS, EmbedderConfig
from model.labels import LABELS, check_label_set


@dataclass
class TrainConfig:
    # Where the default corpus lives (`make model` rebuilds the shipped model from it).
    data: list[str] = field(default_factory=lambda: ["data"])
    out: str = "models"
    name: str = "comment-moderation"
    # The classes the model predicts, in its column order. The rubric's three by default; a site that
    # moderates more (say "offtopic") lists its own, and every row's label must be one of them. The
    # label set is saved with the model: the service, policy and feedback take it from there.
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    seed: int = 0
    # Share of articles held out to measure the model; by article so no article is on both sides.
    test_size: float = 0.2
    # After measuring, refit on every row: the shipped model sees all articles, the metrics stay honest
    # because they come from the same recipe trained without the held-out ones.
    refit_full: bool = True
    # Feature blocks (model.features.BLOCKS). n-grams catch known wording, signals catch contact spam, the
    # sentence embedding catches new phrasings, the lexicon (hand-written insult, profanity, dehumanising-term
    # and threat lists, model/lexicon.py) counts insults that never occur in the training comments.
    # "relevance" (similarity to the article) is left out: on real comments judged by our rubric it did not
    # earn its place (bench/results/real-choices.md, round 1).
    features: list[str] = field(default_factory=lambda: ["word", "char", "signals", "embedding", "lexicon"])
    # Sentence-embedding weights: "" is the bundled all-MiniLM-L6-v2 (sha256 pinned in model/embeddings.py);
    # or a local sentence-transformers folder, with embedding_sha256 set to its weights' sha256 or "unverified".
    embedding_model: str = ""
    embedding_sha256: str = ""
    # How the encoder reads a comment: its precision, word pieces and which of them (model/embeddings.py's
    # EmbedderConfig holds the defaults and says why; "fp32" is what a fine-tuned encoder needs).
    embedding_precision: str = EmbedderConfig.precision
    embedding_max_length: int = EmbedderConfig.max_length
    embedding_truncation: str = EmbedderConfig.truncation
    # Fine-tune the encoder on the training comments' labels before fitting the classifier (training/finetune.py),
    # for a site with a few thousand labelled comments of its own. 0 keeps the shipped weights (the default
    # model). Minutes on a CPU, twice per run (the held-out measurement, then the shipped refit); the tuned
    # weights go into the artifact (models/<version>/encoder/, 87 MiB). Needs embedding_precision = "fp32":
    # int8 quantisation undid the gain. What it bought: docs/training.md, "Fine-tuning the encoder".
    encoder_finetune_epochs: float = 0.0
    encoder_finetune_lr: float = 5e-5
    # The public recipe: a folder of public datasets (../shared/data/public) to train auxiliary toxic / spam /
    # constructive detectors whose scores become features; "" trains on `data` alone (the default model).
    public: str = ""
    # Public datasets left out of the detectors (leave-one-dataset-out evaluation in bench/quality.py).
    public_exclude: list[str] = field(default_factory=list)
    # Rows drawn (seeded) per public set for the detectors: sets weigh the same in their fit anyway.
    public_max_rows: int = 6000
    # Real public comments labelled by our rubric (data/real/labels.csv: keys and labels only), their texts
    # read from this folder of public datasets. The written corpus alone teaches "short or informal means
    # spam"; real readers write short and informal. "" trains on `data` alone; a folder that does not exist
    # is reported and training goes on without them.
    real: str = "../shared/data/public"
    real_labels: str = "data/real/labels.csv"
    # Which splits of the labels to train on: "sealed" is refused (it is the test); "dev" is for choices;
    # "extra" holds round 4's 800 news comments, left out by default (they made dev worse: real-choices.md).
    real_splits: list[str] = field(default_factory=lambda: ["train"])
    # Weight of a real comment against a written one in the fit: the written corpus is larger per label and
    # cleaner, and left at 1.0 it pulls the model towards its own register.
    real_weight: float = 1.0
    # Sets left out: SFU's licence is non-commercial, and a commercial site must be able to run the model.
    real_exclude: list[str] = field(default_factory=lambda: ["sfu_ctc"])
    # Mild regularisation: the corpus is small, but n-gram weights need room for rare insult spellings.
    # "auto" picks C from model.classifier.AUTO_CS by cross-validated log loss on the training comments (the
    # calibration folds): worth it on data unlike data/ (docs/training.md), at about twice the training time.
    C: float | str = 4.0
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
            if key == "C":
                if value != "auto" and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                    raise ValueError(f'{origin}: C must be a positive number or "auto", found {value!r}')
                merged[key] = float(value) if value != "auto" else value
                continue
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
        try:
            merged["labels"] = list(check_label_set(merged["labels"], f"{origin}: labels"))
        except ValueError as e:
            raise ValueError(f'{e} (e.g. labels = ["spam", "toxic", "substantive", "offtopic"])') from None
        if not 0.0 < float(merged["test_size"]) < 1.0:
            raise ValueError(f"{origin}: test_size must be between 0 and 1, found {merged['test_size']}")
        if merged["embedding_precision"] not in ("fp32", "int8"):
            raise ValueError(
                f'{origin}: embedding_precision must be "fp32" or "int8", found {merged["embedding_precision"]!r}'
            )
        if not 8 <= int(merged["embedding_max_length"]) <= 512:
            raise ValueError(
                f"{origin}: embedding_max_length must be between 8 and 512 word pieces (the encoder's limit), "
                f"found {merged['embedding_max_length']}"
            )
        epochs = merged["encoder_finetune_epochs"]
        if not 0 <= epochs <= 20:
            raise ValueError(f"{origin}: encoder_finetune_epochs must be between 0 (off) and 20, found {epochs}")
        if not 0 < merged["encoder_finetune_lr"] < 1:
            raise ValueError(
                f"{origin}: encoder_finetune_lr must be a small positive learning rate (5e-5), "
                f"found {merged['encoder_finetune_lr']}"
            )
        if epochs > 0 and merged["embedding_precision"] != "fp32":
            raise ValueError(
                f'{origin}: encoder_finetune_epochs > 0 needs embedding_precision = "fp32" (found '
                f"{merged['embedding_precision']!r}): int8 quantisation of a fine-tuned encoder lost most of what "
                "fine-tuning gained (OLID macro-F1 0.798 -> 0.753 side by side); training/configs/finetune.toml sets both"
            )
        if epochs > 0 and merged["public"]:
            raise ValueError(
                f"{origin}: encoder_finetune_epochs > 0 cannot be combined with the public recipe yet (public = "
                f"{merged['public']!r}): its detectors are fitted on the shipped encoder's vectors. Use one or the other"
            )
        if epochs > 0 and not {"embedding", "relevance"} & set(merged["features"]):
            raise ValueError(
                f"{origin}: encoder_finetune_epochs > 0 but features {merged['features']} use no embedding; "
                'add "embedding" to features or set encoder_finetune_epochs = 0'
            )
        if not 0 < float(merged["real_weight"]) <= 100:
            raise ValueError(
                f"{origin}: real_weight must be a positive number (1.0: as a written comment), found {merged['real_weight']}"
            )
        bad_splits = sorted(set(merged["real_splits"]) - {"train", "dev", "extra"})
        if bad_splits:
            raise ValueError(
                f"{origin}: real_splits {bad_splits} cannot be trained on; expected some of ['train', 'dev', 'extra'] "
                "(the sealed split is the test, never fitted)"
            )
        if merged["embedding_truncation"] not in TRUNCATIONS:
            raise ValueError(
                f"{origin}: embedding_truncation must be one of {', '.join(TRUNCATIONS)}, "
                f"found {merged['embedding_truncation']!r}"
            )
        return TrainConfig(**merged)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
