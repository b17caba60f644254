"""Score one partition into its Parquet parts: the function both engines run, on the driver or a worker."""

import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import numpy as np

from model.artifact import LoadedModel, load_model
from model.inputs import Comment
from model.policy import Policy, PolicyError, load_policy

from .readers import BadRow, read_partition
from .records import Record, check_record, default_id, raw_excerpt
from .sources import Partition, ScoreError
from .writer import REJECTED, SCORED, Output


@dataclass(frozen=True)
class Job:
    """Everything a worker needs besides the partition; small and picklable, sent with every task."""

    model: str
    out: str
    batch_size: int = 2048
    policy: str | None = None  # None: policies/default.toml
    articles: str | None = None


@dataclass
class PartStats:
    name: str
    rows: int = 0
    scored: int = 0
    rejected: int = 0
    resumed: bool = False  # the part was already complete and not scored again
    labels: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)


class Scorer:
    """The loaded model, policy and article index; built once per process by `get_scorer`."""

    def __init__(self, loaded: LoadedModel, policy: Policy, articles: dict[str, tuple[str, str]]) -> None:
        self.loaded, self.policy, self.articles = loaded, policy, articles
        self.labels = list(loaded.metadata["labels"])
        try:
            policy.check_labels(self.labels, f"model {loaded.version}")
        except PolicyError as e:
            raise ScoreError(str(e)) from None

    def score(self, records: list[Record], rows: list[int], source_file: str) -> dict[str, list]:
        comments = [self._comment(r) for r in records]
        proba = np.asarray(self.loaded.estimator.predict_proba(comments), dtype=np.float64)
        columns: dict[str, list] = {
            "id": [r.id for r in records],
            "label": [self.labels[i] for i in proba.argmax(axis=1)],
        }
        for j, label in enumerate(self.labels):
            columns[label] = proba[:, j].tolist()
        columns["action"] = [
            self.policy.decide(dict(zip(self.labels, p.tolist(), strict=True)), r.site_id).action
            for r, p in zip(records, proba, strict=True)
        ]
        columns["model_version"] = [self.loaded.version] * len(records)
        columns["policy_version"] = [self.policy.version] * len(records)
        columns["source_file"] = [source_file] * len(records)
        columns["source_row"] = rows
        return columns

    def _comment(self, r: Record) -> Comment:
        title, body = r.article_title, r.article_body
        if not (title or body) and r.article_id in self.articles:
            title, body = self.articles[r.article_id]
        return Comment(r.text, title, body)


@functools.lru_cache(maxsize=2)
def get_scorer(model: str, policy: str | None, articles: str | None) -> Scorer:
    """Load once per process: every task on a Dask worker after the first reuses the same Scorer."""
    return Scorer(load_model(Path(model)), load_policy(Path(policy) if policy else None), load_articles(articles))


def load_articles(url: str | None) -> dict[str, tuple[str, str]]:
    """article_id -> (title, body) from a JSONL file like data/articles.jsonl (title/body or article_* keys)."""
    if not url:
        return {}
    index: dict[str, tuple[str, str]] = {}
    with fsspec.open(url, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                key = str(obj["article_id"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ScoreError(f"{url}, line {number}: expected JSON with article_id, title, body ({e})") from e
            title = obj.get("title", obj.get("article_title")) or ""
            body = obj.get("body", obj.get("article_body")) or ""
            index[key] = (str(title), str(body))
    return index


def score_partition(part: Partition, job: Job, on_rows: Callable[[int], None] | None = None) -> PartStats:
    """Read, check, score and write one partition; `on_rows(n)` reports progress after each batch."""
    scorer = get_scorer(job.model, job.policy, job.articles)
    stats = PartStats(name=part.name)
    source = part.source.path
    good: list[Record] = []
    good_rows: list[int] = []
    bad: dict[str, list] = {"id": [], "reason": [], "raw": [], "source_file": [], "source_row": []}

    def flush(writer) -> None:
        if good:
            columns = scorer.score(good, good_rows, source)
            writer.write(SCORED, columns)
            stats.labels.update(columns["label"])
            stats.actions.update(columns["action"])
        if bad["id"]:
            writer.write(REJECTED, bad)
            stats.reasons.update(bad["reason"])
        done = len(good) + len(bad["id"])
        stats.scored += len(good)
        stats.rejected += len(bad["id"])
        good.clear(), good_rows.clear()
        for values in bad.values():
            values.clear()
        if on_rows and done:
            on_rows(done)

    with Output(job.out).part(part.name, scorer.labels) as writer:
        for number, raw in read_partition(part):
            checked = raw if isinstance(raw, BadRow) else check_record(raw, source, number)
            if isinstance(checked, Record):
                good.append(checked)
                good_rows.append(number)
            else:
                reason = checked.reason if isinstance(checked, BadRow) else checked
                bad["id"].append(_rejected_id(raw, source, number))
                bad["reason"].append(reason)
                bad["raw"].append(checked.raw if isinstance(checked, BadRow) else raw_excerpt(raw))
                bad["source_file"].append(source)
                bad["source_row"].append(number)
            if len(good) + len(bad["id"]) >= job.batch_size:
                flush(writer)
        flush(writer)
        stats.rows = stats.scored + stats.rejected
        if stats.rows != part.rows:
            # Planning counted these rows, reading found another number: the file changed under the run.
            # Raising here aborts the part, so no part with missing or extra rows is ever committed.
            raise ScoreError(
                f"{source}: partition {part.index} was planned with {part.rows} rows but {stats.rows} were read; "
                "the file changed during the run. Rerun with a new --out"
            )
    return stats


def existing_stats(part: Partition, out: Output) -> PartStats:
    """Counts of a part a previous run completed, so the summary covers the whole output."""
    scored = out.read_columns(SCORED, part.name, ["label", "action"])
    rejected = out.read_columns(REJECTED, part.name, ["reason"])
    stats = PartStats(name=part.name, scored=scored.num_rows, rejected=rejected.num_rows, resumed=True)
    stats.rows = stats.scored + stats.rejected
    stats.labels.update(scored.column("label").to_pylist())
    stats.actions.update(scored.column("action").to_pylist())
    stats.reasons.update(rejected.column("reason").to_pylist())
    return stats


def _rejected_id(raw: object, source: str, number: int) -> str:
    row_id = raw.get("id") if isinstance(raw, dict) else None
    return (
        str(row_id)
        if isinstance(row_id, str | int) and row_id != "" and not isinstance(row_id, bool)
        else default_id(source, number)
    )
