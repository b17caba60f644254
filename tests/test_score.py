"""Batch scoring of an archive (`python -m training.score`): formats, rejected rows, Dask, resume, memory."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from model.artifact import load_model
from model.inputs import Comment
from model.labels import LABELS
from training.score import main
from training.scoring.engines import run
from training.scoring.scorer import Job
from training.scoring.sources import ScoreError

from .conftest import ROOT, TINY

TINY_ROWS = [json.loads(line) for line in TINY.read_text(encoding="utf-8").splitlines() if line.strip()]
KEY = ["source_file", "source_row"]


def archive_rows(n: int, with_ids: bool = True) -> list[dict]:
    """n comments cycled from the tiny fixture, each text made distinct; every third row has no id."""
    rows = []
    for i in range(n):
        base = TINY_ROWS[i % len(TINY_ROWS)]
        row = {"text": f"{base['text']} ({i})", "article_id": base["article_id"]}
        if with_ids and i % 3:
            row["id"] = f"c{i}"
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_parts(out: Path, kind: str = "scored") -> pa.Table:
    return pads.dataset(out / kind, format="parquet").to_table().sort_by([(k, "ascending") for k in KEY])


def assert_same_output(a: pa.Table, b: pa.Table) -> None:
    """Same rows, ids, labels and actions exactly; scores to 1e-6.

    The embedding block computes in float32 and torch's kernels may sum in another order in another
    process (thread count, CPU dispatch), which moves scores by ~1e-8; nothing else may differ.
    """
    assert a.num_rows == b.num_rows
    exact = [c for c in a.column_names if c not in LABELS]
    assert a.select(exact).equals(b.select(exact))
    for label in LABELS:
        assert a.column(label).to_pylist() == pytest.approx(b.column(label).to_pylist(), abs=1e-6), label


def job(model: Path, out: Path, **kw) -> Job:
    return Job(model=str(model), out=str(out), **kw)


def test_scores_match_the_model_and_every_format_reads_the_same(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = archive_rows(90)
    rows[7]["text"] = 'first line, with a comma\nsecond line with "quotes"'  # a quoted newline in CSV
    write_jsonl(tmp_path / "a.jsonl", rows)
    columns = ["id", "text", "article_id"]
    with open(tmp_path / "a.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in columns} for r in rows)
    table = pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows])
    # Row groups of 16 against partitions of 20: partitions start inside row groups.
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=16)

    outputs = {}
    for fmt in ("jsonl", "csv", "parquet"):
        run([str(tmp_path / f"a.{fmt}")], job(tiny_model_dir, tmp_path / fmt), part_rows=20, progress=False)
        outputs[fmt] = read_parts(tmp_path / fmt)
    assert len(list((tmp_path / "csv" / "scored").glob("*.parquet"))) == 5  # ceil(90 / 20)

    loaded = load_model(tiny_model_dir)
    expected = loaded.estimator.predict_proba([Comment(r["text"]) for r in rows])
    scored = outputs["jsonl"]
    assert scored.num_rows == len(rows)
    assert scored.column("source_row").to_pylist() == list(range(1, len(rows) + 1))
    for j, label in enumerate(LABELS):
        assert scored.column(label).to_pylist() == pytest.approx(expected[:, j].tolist(), abs=1e-12)
    assert scored.column("label").to_pylist() == [LABELS[i] for i in expected.argmax(axis=1)]
    assert set(scored.column("model_version").to_pylist()) == {loaded.version}
    assert set(scored.column("action").to_pylist()) <= {"approve", "hold", "reject"}
    # Rows without an id get file#row, stable across runs.
    assert scored.column("id").to_pylist()[0] == f"{tmp_path / 'a.jsonl'}#1"
    assert scored.column("id").to_pylist()[1] == "c1"
    for fmt in ("csv", "parquet"):
        other = outputs[fmt]
        # Generated ids name their own file; everything else must match row for row.
        assert_same_output(other.drop_columns(["source_file", "id"]), scored.drop_columns(["source_file", "id"]))
        assert other.column("id").to_pylist()[0] == f"{tmp_path / f'a.{fmt}'}#1"
        assert other.column("id").to_pylist()[1:3] == ["c1", "c2"]


def test_rejected_rows_carry_reasons_and_nothing_is_dropped(tiny_model_dir: Path, tmp_path: Path) -> None:
    good = archive_rows(20)
    bad = [
        ({"id": "no-text", "article_id": "t1"}, "missing text: the row has no 'text' field or it is null"),
        ({"id": "null-text", "text": None}, "missing text: the row has no 'text' field or it is null"),
        ({"id": "blank", "text": "   "}, "empty text: 'text' is blank"),
        ({"id": "number", "text": 42}, "text is int, expected a string"),
        (
            {"id": "title", "text": "fine", "article_title": ["a"]},
            "article_title is list, expected a string or nothing",
        ),
        ({"id": {"x": 1}, "text": "fine"}, "id is dict {'x': 1}, expected a string or integer"),
        ([1, 2], "row is list, expected an object with a 'text' field"),
    ]
    lines = [json.dumps(r) for r in good[:10]] + [json.dumps(r) for r, _ in bad] + ["{broken"]
    lines += [json.dumps(r) for r in good[10:]]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = run([str(tmp_path / "in.jsonl")], job(tiny_model_dir, tmp_path / "out"), part_rows=8, progress=False)

    rejected = read_parts(tmp_path / "out", "rejected")
    assert rejected.column("source_row").to_pylist() == list(range(11, 11 + len(bad) + 1))
    reasons = rejected.column("reason").to_pylist()
    assert reasons[: len(bad)] == [reason for _, reason in bad]
    assert reasons[-1].startswith("invalid JSON (")
    assert rejected.column("id").to_pylist()[:4] == ["no-text", "null-text", "blank", "number"]
    assert '"text": 42' in rejected.column("raw").to_pylist()[3]
    assert read_parts(tmp_path / "out").num_rows == len(good)
    assert (summary.rows, summary.scored, summary.rejected) == (len(lines), len(good), len(bad) + 1)
    assert summary.reasons["text is int, expected a string"] == 1


def test_local_and_dask_outputs_are_identical(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", archive_rows(100) + [{"id": "bad", "text": ""}])
    rows_b = archive_rows(50, with_ids=False)
    with open(tmp_path / "in" / "b.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["text", "article_id"])
        writer.writeheader()
        writer.writerows(rows_b)
    data = [str(tmp_path / "in" / "*")]

    local = run(data, job(tiny_model_dir, tmp_path / "local", batch_size=16), part_rows=30, progress=False)
    # Worker processes, as on a real cluster: the job and partitions are pickled, each worker loads the model.
    dask = run(
        data,
        job(tiny_model_dir, tmp_path / "dask", batch_size=16),
        part_rows=30,
        engine="dask",
        workers=2,
        progress=False,
    )

    assert local.as_dict()["labels"] == dask.as_dict()["labels"]
    assert (local.rows, dask.rows) == (151, 151)
    assert_same_output(read_parts(tmp_path / "local"), read_parts(tmp_path / "dask"))
    rejected = read_parts(tmp_path / "local", "rejected")
    assert rejected.num_rows == 1 and rejected.equals(read_parts(tmp_path / "dask", "rejected"))
    names = sorted(p.name for p in (tmp_path / "local" / "scored").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "dask" / "scored").iterdir())
    assert len(names) == 4 + 2  # ceil(101 / 30) and ceil(50 / 30)


def test_resume_after_a_killed_run_has_every_row_exactly_once(tiny_model_dir: Path, tmp_path: Path) -> None:
    n, part_rows = 400, 40
    write_jsonl(tmp_path / "in.jsonl", archive_rows(n))
    out = tmp_path / "out"
    args = ["--model", str(tiny_model_dir), "--data", str(tmp_path / "in.jsonl"), "--out", str(out)]
    args += ["--part-rows", str(part_rows), "--batch-size", "20", "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "training.score", *args], cwd=ROOT, env=_env())
    try:
        deadline = time.monotonic() + 300  # start-up loads torch and MiniLM: slow on a busy machine
        while not list((out / "scored").glob("*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done_before = len(list((out / "scored").glob("*.parquet")))
    assert 1 <= done_before < n // part_rows, (
        f"the kill should land mid-run; {done_before} of {n // part_rows} parts were done"
    )

    assert main(args) == 0
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["parts_resumed"] >= done_before
    assert summary["rows"] == n and summary["rows_this_run"] == n - part_rows * summary["parts_resumed"]

    scored = read_parts(out)
    assert scored.column("source_row").to_pylist() == list(range(1, n + 1))  # every row, once, in order
    assert not [p for p in (out / "scored").iterdir() if p.name.startswith(".")], "temporary parts were left"
    clean = tmp_path / "clean"
    run([str(tmp_path / "in.jsonl")], job(tiny_model_dir, clean, batch_size=20), part_rows=part_rows, progress=False)
    assert_same_output(read_parts(clean), scored)


def test_rerun_with_other_partitioning_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in.jsonl", archive_rows(30))
    run([str(tmp_path / "in.jsonl")], job(tiny_model_dir, tmp_path / "out"), part_rows=10, progress=False)
    with pytest.raises(ScoreError, match=re.escape("holds parts of another run (different part_rows")):
        run([str(tmp_path / "in.jsonl")], job(tiny_model_dir, tmp_path / "out"), part_rows=20, progress=False)


def test_cli_prints_a_summary_and_names_missing_input(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "in.jsonl", archive_rows(12))
    base = ["--model", str(tiny_model_dir), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*base, "--data", str(tmp_path / "in.jsonl")]) == 0
    printed = capsys.readouterr().out
    assert "12 rows in 1 parts" in printed and "labels:  spam" in printed and "comments/s" in printed
    assert main([*base, "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: no such file or directory" in capsys.readouterr().err


def test_articles_are_joined_by_article_id(tiny_model_dir: Path, tmp_path: Path) -> None:
    articles = {r["article_id"]: (r["article_title"], r["article_body"]) for r in TINY_ROWS}
    write_jsonl(
        tmp_path / "articles.jsonl", [{"article_id": k, "title": t, "body": b} for k, (t, b) in articles.items()]
    )
    rows = archive_rows(40)
    write_jsonl(tmp_path / "in.jsonl", rows)
    work = job(tiny_model_dir, tmp_path / "out", articles=str(tmp_path / "articles.jsonl"))
    run([str(tmp_path / "in.jsonl")], work, progress=False)

    comments = [Comment(r["text"], *articles[r["article_id"]]) for r in rows]
    expected = load_model(tiny_model_dir).estimator.predict_proba(comments)
    assert read_parts(tmp_path / "out").column("spam").to_pylist() == pytest.approx(expected[:, 0].tolist(), abs=1e-12)


@pytest.fixture(scope="module")
def ngram_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data with the n-gram and signal blocks only: a real model that scores ~4,000 comments/s.

    tiny_model_dir now carries the sentence-embedding blocks (MiniLM, ~100 comments/s on 2 cores), which
    would make 200,000 rows take over half an hour. What this test checks, that nothing grows with the
    input, is in the reader/batch/writer pipeline, the same for every model; a model's own working memory
    is per batch either way.
    """
    from training.config import TrainConfig
    from training.fit import train

    out = tmp_path_factory.mktemp("ngram-models")
    train(
        TrainConfig(real="", data=[str(TINY)], out=str(out), calibration_folds=3, features=["word", "char", "signals"])
    )
    return out / "current"


@pytest.mark.slow  # scores 200,000 rows in a subprocess
def test_memory_stays_flat_on_200k_rows(ngram_model_dir: Path, tmp_path: Path) -> None:
    """Peak RSS while the first part is scored vs peak over the other nine: the second must not grow.

    200,000 rows take about a minute on 2 cores with --batch-size 4096 (larger batches amortise the
    vectoriser's per-call cost). The first part already holds every per-batch allocation, so growth after
    it can only come from state that scales with the input.
    """
    n, part_rows = 200_000, 20_000
    with open(tmp_path / "big.jsonl", "w", encoding="utf-8") as f:
        for row in archive_rows(n):
            f.write(json.dumps(row) + "\n")
    out = tmp_path / "out"
    model, data = str(ngram_model_dir), str(tmp_path / "big.jsonl")
    cmd = [sys.executable, "-m", "training.score", "--model", model, "--data", data]
    cmd += ["--out", str(out), "--part-rows", str(part_rows), "--batch-size", "4096", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL)
    watched = psutil.Process(proc.pid)
    first_part_peak, later_peak = 0, 0
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if list((out / "scored").glob("*.parquet")):
            later_peak = max(later_peak, rss)
        else:
            first_part_peak = max(first_part_peak, rss)
        time.sleep(0.05)
    assert proc.returncode == 0
    assert read_parts(out).num_rows == n
    assert later_peak > 0, "the run ended before a part was written; nothing was measured after it"
    growth_mb = (later_peak - first_part_peak) / 2**20
    assert growth_mb < BOUND_MB, f"peak RSS grew {growth_mb:.1f} MB over the 180,000 rows after the first part"


# Measured: the parts' peaks wander within ~13 MB of each other and the later peak was 2 MB *below* the
# first part's. Retaining only the ids and scores of the 180,000 later rows would add ~27 MB, their texts
# ~60 MB more.
BOUND_MB = 20


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
