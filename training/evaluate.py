"""Evaluate a saved model on labelled comments and write an HTML / Markdown / JSON report.

python -m training.evaluate --model models/current --data held_out.jsonl
python -m training.evaluate --model models/new --data a.jsonl --data b.csv --baseline models/current --out reports/new
python -m training.evaluate --model models/current --data data/ --policy policies/strict.toml

Writes OUT/report.html (self-contained, opens offline), OUT/report.md with the charts as PNG files beside
it, and OUT/report.json holding every number, for a CI job to gate a model on.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from model.artifact import ArtifactError, LoadedModel, load_model
from model.labels import LABELS
from model.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy

from .data import DataError, Row, load_labelled
from .report.build import build_report
from .report.stats import N_BOOT
from .report.writers import HTML_FILE, write_report

BATCH = 256  # comments per predict_proba call: a progress step every batch, memory bounded on big files


def log(message: str) -> None:
    print(f"[evaluate {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def score(loaded: LoadedModel, rows: list[Row], desc: str = "scoring", batch: int = BATCH) -> np.ndarray:
    """Probabilities in LABELS column order, scored in batches under a progress bar."""
    classes = [str(c) for c in getattr(loaded.estimator, "classes_", LABELS)]
    if sorted(classes) != sorted(LABELS):
        raise ArtifactError(
            f"{loaded.path}: model predicts {classes}; evaluation reports are built for the rubric's labels "
            f"{list(LABELS)} so far. Score other labels with `python -m training.score` and compare by hand"
        )
    order = [classes.index(label) for label in LABELS]
    out = np.zeros((len(rows), len(LABELS)))
    with tqdm(total=len(rows), desc=desc, unit="comment", file=sys.stderr) as bar:
        for start in range(0, len(rows), batch):
            chunk = [r.comment() for r in rows[start : start + batch]]
            out[start : start + len(chunk)] = np.asarray(loaded.estimator.predict_proba(chunk))[:, order]
            bar.update(len(chunk))
    return out


def model_info(loaded: LoadedModel) -> dict[str, Any]:
    return {"name": loaded.name, "version": loaded.version, "path": str(loaded.path)}


def evaluate(
    model_dir: Path,
    data: list[str],
    out: Path,
    baseline_dir: Path | None = None,
    policy_file: Path | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    skip_invalid: bool = False,
    articles: Path | None = None,
) -> dict[str, Any]:
    """Load, score, build and write the report; returns the report data."""
    loaded = load_model(model_dir)
    baseline = load_model(baseline_dir) if baseline_dir else None
    policy_path = Path(policy_file) if policy_file else DEFAULT_POLICY_FILE
    policy = load_policy(policy_path)
    policy.check_labels(loaded.metadata["labels"], f"model {loaded.version}", f"policy file {policy_path}")
    labelled = load_labelled(data, skip_invalid=skip_invalid, articles=articles)
    log(f"loaded {len(labelled.rows)} comments from {', '.join(data)}: {labelled.label_counts()}")
    if labelled.skipped:
        log("skipped invalid rows: " + "; ".join(f"{n} x {r}" for r, n in labelled.skipped.items()))
    proba = score(loaded, labelled.rows, desc=f"scoring {loaded.version}")
    base_proba = score(baseline, labelled.rows, desc=f"scoring baseline {baseline.version}") if baseline else None
    log(f"computing metrics ({n_boot} bootstrap resamples) and charts...")
    report = build_report(
        labelled.rows,
        proba,
        policy,
        str(policy_path),
        model_info=model_info(loaded),
        data_info={
            "sources": labelled.sources,
            "fingerprint_sha256": labelled.fingerprint,
            "skipped_invalid": dict(labelled.skipped),
        },
        baseline_proba=base_proba,
        baseline_info=model_info(baseline) if baseline else None,
        n_boot=n_boot,
        seed=seed,
    )
    written = write_report(report, out)
    log(f"wrote {', '.join(str(p) for p in written.values())}")
    return report


def main(argv: list[str] | None = None, prog: str = "python -m training.evaluate") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").replace("python -m training.evaluate", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, type=Path, help="model directory, e.g. models/current")
    parser.add_argument(
        "--data", required=True, action="append", help="labelled CSV/JSONL file or directory (repeatable)"
    )
    parser.add_argument("--baseline", type=Path, help="model directory to compare against (e.g. the one serving now)")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/latest"), help="report folder (default: reports/latest)"
    )
    parser.add_argument("--policy", type=Path, help=f"policy TOML for the policy view (default: {DEFAULT_POLICY_FILE})")
    parser.add_argument("--bootstrap", type=int, default=N_BOOT, help="bootstrap resamples for the 95%% intervals")
    parser.add_argument("--articles", type=Path, help="articles JSONL (article_id, title, body) to join by article_id")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="drop invalid rows (and say how many) instead of stopping"
    )
    args = parser.parse_args(argv)
    if args.bootstrap < 100:
        parser.error(f"--bootstrap {args.bootstrap}: use at least 100 resamples for a 95% interval")
    try:
        report = evaluate(
            args.model,
            args.data,
            args.out,
            args.baseline,
            args.policy,
            args.bootstrap,
            args.seed,
            args.skip_invalid,
            args.articles,
        )
    except (ArtifactError, DataError, PolicyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    h = report["headline"]
    summary = f"macro-F1 {h['macro_f1']:.3f} [{h['macro_f1_ci'][0]:.3f}, {h['macro_f1_ci'][1]:.3f}]"
    if "comparison" in report:
        summary += f"; vs baseline: {report['comparison']['verdict']}"
    print(f"{summary}\nreport: {args.out / HTML_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
