"""Train a comment classifier and write a versioned artifact.

python -m training.fit                         # data/ + the rubric-labelled real comments, writes models/<version>/
python -m training.fit --no-real               # data/ alone (also what happens without ../shared/data/public)
python -m training.fit --data mine.jsonl --data more.csv --out models --seed 1
python -m training.fit --config training.toml  # any TrainConfig key
python -m training.fit --public ../shared/data/public  # the public recipe: + detectors trained on public sets
python -m training.fit --feedback               # also the moderators' feedback stored by the service
"""

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from model.artifact import can_be_portable, save_model
from model.auxiliary import AuxiliaryDetectors
from model.classifier import CommentClassifier
from model.embeddings import Embedder, EmbeddingError
from model.features import normalize_all
from model.inputs import Comment
from model.labels import LABELS
from model.modeldir import ENCODER_DIR
from storage import StorageError

from .config import TrainConfig
from .data import DataError, LabelledData, load_labelled
from .export_feedback import default_database_url, snapshot_feedback
from .finetune import finetune_encoder
from .metrics import classification_metrics, format_metrics
from .progress import embed_ahead, fold_counter, wanted
from .public import PublicDataError, prepare_semantic
from .realdata import LICENCES, RealLabelError, RealSet, load_real
from .split import split_by_article


def log(message: str) -> None:
    print(f"[fit {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_estimator(
    config: TrainConfig, embedder: Embedder | None = None, auxiliary: AuxiliaryDetectors | None = None
) -> CommentClassifier:
    return CommentClassifier(
        features=tuple(config.features),
        C=config.C,
        calibration_folds=config.calibration_folds,
        random_state=config.seed,
        embedder=embedder,
        auxiliary=auxiliary,
        labels=tuple(config.labels),
    )


def _subset(data: LabelledData, idx: Any) -> tuple[list, list[str], list[str]]:
    rows = [data.rows[i] for i in idx]
    return [r.comment() for r in rows], [r.label for r in rows], [r.group for r in rows]


def _real_rows(real: RealSet | None) -> tuple[list, list[str], list[str]]:
    if real is None:
        return [], [], []
    return (
        [Comment(c.text, c.context) for c in real.comments],
        list(real.labels),
        [f"real:{c.dataset}:{c.key}" for c in real.comments],
    )


def _weights(weights: list[float]) -> list[float] | None:
    """None when every weight is 1: the fit is then exactly the unweighted one of models trained before."""
    return None if all(w == 1.0 for w in weights) else weights


def load_real_for(config: TrainConfig) -> tuple[RealSet | None, RealSet | None, dict[str, Any]]:
    """(the real comments to train on, the dev split to measure on, their provenance); (None, None, why) without."""
    if not config.real:
        log('real comments: off (real = ""); training on the written corpus alone')
        return None, None, {"used": False, "why": 'switched off (real = "")'}
    public = Path(config.real)
    if not public.is_dir():
        log(f"real comments: MISSING, {public} not found; training on {', '.join(config.data)} alone")
        return None, None, {"used": False, "why": f"{public} not found"}
    lacking = [label for label in LABELS if label not in config.labels]
    if lacking:
        raise DataError(
            f"the real comments ({config.real_labels}) are labelled {list(LABELS)} by our rubric, but this "
            f"model's labels {config.labels} lack {lacking}; train on your own data alone with --no-real "
            '(real = ""), or add those labels'
        )
    real = load_real(public, Path(config.real_labels), tuple(config.real_exclude))
    train = real.where(tuple(config.real_splits))
    dev = real.where(("dev",))
    provenance = {
        "used": True,
        "labels": config.real_labels,
        "public": config.real,
        "splits": list(config.real_splits),
        "excluded": list(config.real_exclude),
        "sets": [
            {"dataset": d, "rows": n, "licence": LICENCES[d][0], "commercial_use": LICENCES[d][1]}
            for d, n in sorted(train.counts().items())
        ],
        "undecided_left_out": real.undecided,
        "texts_missing": real.missing,
    }
    log(
        f"real comments: {len(train.comments)} rubric-labelled comments ({', '.join(config.real_splits)} split) "
        f"from {public}: "
        + ", ".join(f"{d} {n}" for d, n in sorted(train.counts().items()))
        + f"; left out: {', '.join(config.real_exclude) or 'none'}, {real.undecided} undecided"
        + (f", texts missing {real.missing}" if real.missing else "")
    )
    return train, dev, provenance


def _check_default_data(config: TrainConfig) -> None:
    """The default corpus, data/, is a folder of the source checkout, read from the current directory: a run
    from anywhere else must say so, not report a missing file it was never told about."""
    if config.data == TrainConfig().data and not Path(config.data[0]).is_dir():
        raise DataError(
            f"no --data given, and the default corpus folder {config.data[0]}/ is not in the current directory "
            f"({Path.cwd()}); run from the source checkout, or pass --data FILE_OR_DIR (CSV or JSONL with "
            "text and label columns, repeatable)"
        )


def train(config: TrainConfig, progress: bool = False) -> Path:
    """Load, split by article, fit, measure on held-out articles, refit on all, save. Returns the model dir.

    progress: progress bars on stderr for the long stages (training/progress.py); off, the log lines alone.
    """
    started = time.perf_counter()
    _check_default_data(config)
    data = load_labelled(config.data, skip_invalid=config.skip_invalid, labels=tuple(config.labels))
    log(f"loaded {len(data.rows)} comments from {', '.join(config.data)}: {data.label_counts()}")
    if data.skipped:
        log(
            f"skipped {sum(data.skipped.values())} invalid rows: "
            + "; ".join(f"{n} x {r}" for r, n in data.skipped.items())
        )
    train_idx, test_idx = split_by_article(data, config.test_size, config.seed)
    log(f"split by article: {len(train_idx)} train, {len(test_idx)} held-out comments")

    real, real_dev, real_provenance = load_real_for(config)
    config, embedder, auxiliary, semantic_metadata = prepare_semantic(config, log)
    semantic_metadata["real_comments"] = real_provenance
    with tempfile.TemporaryDirectory(prefix=".finetune.", dir=_made(config.out)) as work:
        return _fit_and_save(
            config,
            data,
            train_idx,
            test_idx,
            (real, real_dev),
            embedder,
            auxiliary,
            semantic_metadata,
            Path(work),
            started,
            progress,
        )


def _made(folder: str) -> str:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return folder


def _tuned(
    config: TrainConfig,
    embedder: Embedder,
    comments: list,
    labels: list[str],
    out: Path,
    shipped: bool = True,
    progress: bool = False,
) -> Embedder:
    """`embedder` itself, or (encoder_finetune_epochs > 0) one whose encoder is fine-tuned on these comments.

    An encoder that will not ship (the held-out measurement's, when the model is refitted on everything) runs
    on torch: the ONNX runtime would export it to the user's cache (87 MiB) for one use. At fp32 the two
    runtimes agree to cosine > 0.999 (model/onnx_runtime.py checks it).
    """
    if config.encoder_finetune_epochs <= 0:
        return embedder
    tuned = finetune_encoder(
        embedder.config,
        normalize_all(comments),
        labels,
        out,
        epochs=config.encoder_finetune_epochs,
        lr=config.encoder_finetune_lr,
        seed=config.seed,
        log=log,
        progress=progress,
    )
    return Embedder(tuned if shipped else replace(tuned, runtime="torch"))


def _fit_and_save(
    config: TrainConfig,
    data: LabelledData,
    train_idx: Any,
    test_idx: Any,
    reals: tuple[RealSet | None, RealSet | None],
    embedder: Embedder,
    auxiliary: AuxiliaryDetectors | None,
    semantic_metadata: dict[str, Any],
    work: Path,
    started: float,
    progress: bool = False,
) -> Path:
    real, real_dev = reals
    real_X, real_y, real_groups = _real_rows(real)
    X, y, groups = _subset(data, train_idx)
    weights = [1.0] * len(X) + [config.real_weight] * len(real_X)
    X, y, groups = X + real_X, y + real_y, groups + real_groups
    # Fine-tuned on the training articles only, so the held-out figures are about articles it never saw.
    shipped_embedder = _tuned(
        config, embedder, X, y, work / "held-out-encoder", shipped=not config.refit_full, progress=progress
    )
    log("fitting on the training articles (with out-of-fold calibration)...")
    X_test, y_test, _ = _subset(data, test_idx)
    _embed_ahead(config, shipped_embedder, X + X_test, progress)
    estimator = build_estimator(config, shipped_embedder, auxiliary)
    _fit(estimator, X, y, groups, _weights(weights), progress, "calibration folds")
    if estimator.c_search_:
        log(f"C=auto: cross-validated log loss {estimator.c_search_}; chose C={estimator.C_}")
    held_out = classification_metrics(y_test, estimator.predict_proba(X_test), tuple(config.labels))
    log("held-out metrics (articles unseen in training):\n" + format_metrics(held_out))
    metrics: dict[str, Any] = {"held_out": held_out, "split": "by article", "test_size": config.test_size}
    if real_dev is not None and real_dev.comments:
        dev_X, dev_y, _ = _real_rows(real_dev)
        metrics["real_dev"] = classification_metrics(dev_y, estimator.predict_proba(dev_X), tuple(config.labels))
        log("real comments, dev split (never trained on):\n" + format_metrics(metrics["real_dev"]))

    if config.refit_full:
        log("refitting on all comments for the shipped model...")
        shipped_embedder = _tuned(
            config, embedder, data.comments(), data.labels(), work / ENCODER_DIR, progress=progress
        )
        _embed_ahead(config, shipped_embedder, data.comments() + real_X, progress)
        estimator = build_estimator(config, shipped_embedder, auxiliary)
        weights = [1.0] * len(data.rows) + [config.real_weight] * len(real_X)
        _fit(
            estimator,
            data.comments() + real_X,
            data.labels() + real_y,
            data.groups() + real_groups,
            _weights(weights),
            progress,
            "refit: calibration folds",
        )

    metadata = {
        "name": config.name,
        "training": {
            "config": config.as_dict(),
            "data": {
                "sources": data.sources,
                "fingerprint_sha256": data.fingerprint,
                "rows": len(data.rows),
                "label_counts": data.label_counts(),
                "skipped_invalid": dict(data.skipped),
            },
            "seconds": round(time.perf_counter() - started, 1),
        },
        "features": list(config.features),
        **semantic_metadata,
        "calibration": estimator.calibration_,
        # The C the shipped model was fitted with; with C="auto", also each candidate's cross-validated log loss.
        "regularisation": {
            "C": estimator.C_,
            "cross_validated_log_loss": {str(c): v for c, v in estimator.c_search_.items()},
        },
        "metrics": metrics,
    }
    files = {}
    if shipped_embedder is not embedder:
        tuned_folder = shipped_embedder.config.folder()
        metadata["embedding_model"] = {
            **shipped_embedder.describe(),
            "path": ENCODER_DIR,
            "name": f"{semantic_metadata['embedding_model']['name']}, fine-tuned on the training comments",
            "fine_tuned": {
                "from": semantic_metadata["embedding_model"],
                "epochs": config.encoder_finetune_epochs,
                "learning_rate": config.encoder_finetune_lr,
            },
        }
        # The saved config names the encoder relative to the artifact; load_model resolves it there.
        shipped_embedder.config = replace(shipped_embedder.config, path=ENCODER_DIR)
        files[ENCODER_DIR] = tuned_folder
    portable = can_be_portable(config.features)
    if not portable:
        log(
            f"features {config.features} include a block with no portable form: writing the pickled format "
            "(model.joblib), which needs scikit-learn of the same minor version to load"
        )
    path = save_model(estimator, Path(config.out), metadata, files=files, portable=portable)
    log(f"wrote {path} (models/current -> {path.name}) in {time.perf_counter() - started:.0f}s")
    return path


def _embed_ahead(config: TrainConfig, embedder: Embedder, comments: list, progress: bool) -> None:
    if progress and "embedding" in config.features:
        embed_ahead(embedder, normalize_all(comments), progress)


def _fit(
    estimator: CommentClassifier,
    X: list,
    y: list[str],
    groups: list[str],
    weights: list[float] | None,
    progress: bool,
    stage: str,
) -> None:
    bar, on_fold = fold_counter(progress, stage, estimator.calibration_folds)
    with bar:
        estimator.fit(X, y, groups=groups, sample_weight=weights, on_fold=on_fold)


def parse_args(argv: list[str] | None, prog: str = "python -m training.fit") -> tuple[TrainConfig, bool]:
    """The run's configuration, and whether to show progress bars."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m training.fit", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", action="append", help="CSV/JSONL file, data directory or hub name (repeatable)")
    parser.add_argument("--out", help="models directory (default: models)")
    parser.add_argument("--seed", type=int, help="random seed for the split and folds")
    parser.add_argument("--config", type=Path, help="TOML file with TrainConfig keys")
    parser.add_argument(
        "--public",
        metavar="DIR",
        help="public recipe: also train detectors on the datasets in DIR (../shared/data/public)",
    )
    parser.add_argument(
        "--real",
        metavar="DIR",
        help="folder of the public datasets whose rubric-labelled comments (data/real/labels.csv) are trained on "
        "(default ../shared/data/public); --no-real trains on --data alone",
    )
    parser.add_argument(
        "--labels",
        metavar="A,B,C",
        help="the labels to train, comma-separated, in column order (default spam,toxic,substantive); "
        "every row's label must be one of them",
    )
    parser.add_argument("--no-real", action="store_true", help="train on --data alone, no real public comments")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="drop invalid rows (and report them) instead of stopping"
    )
    parser.add_argument(
        "--feedback",
        nargs="?",
        const="",
        metavar="DATABASE_URL",
        help="also train on the moderators' stored feedback (default database: the service's database_url)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars (there are none either when stderr is not a terminal)",
    )
    args = parser.parse_args(argv)
    config = TrainConfig.from_toml(args.config) if args.config else TrainConfig()
    overrides = {k: v for k, v in {"data": args.data, "out": args.out, "seed": args.seed}.items() if v is not None}
    if args.labels:
        overrides["labels"] = [x.strip() for x in args.labels.split(",")]
    if args.public:
        overrides["public"] = args.public
    if args.no_real:
        overrides["real"] = ""
    elif args.real:
        overrides["real"] = args.real
    if args.feedback is not None:
        # Exported now, before training, to <out>/feedback/: the model's metadata then names a file that exists.
        config_now = config.updated(overrides)
        snapshot = snapshot_feedback(args.feedback or default_database_url(), Path(config_now.out))
        if snapshot is None:
            log("no feedback stored yet; training without it")
        else:
            log(f"feedback exported to {snapshot}")
            overrides["data"] = [*config_now.data, str(snapshot)]
    if args.skip_invalid:
        overrides["skip_invalid"] = True
    return config.updated(overrides), wanted(args.quiet)


def main(argv: list[str] | None = None, prog: str = "python -m training.fit") -> int:
    try:
        config, progress = parse_args(argv, prog)
        train(config, progress)
    except (DataError, ValueError, StorageError, PublicDataError, EmbeddingError, RealLabelError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
