"""Run every partition of an archive, here (local) or on a Dask cluster, and summarise the output."""

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from model.artifact import read_metadata, resolve_model_dir
from model.policy import load_policy

from .scorer import Job, PartStats, existing_stats, score_partition
from .sources import Partition, find_sources, plan
from .summary import RunSummary
from .writer import SUMMARY, Output

ENGINES = ("local", "dask")


def run(
    data: list[str],
    job: Job,
    part_rows: int = 50_000,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    processes: bool = True,
) -> RunSummary:
    """Score every row of `data` into job.out, skipping parts an earlier run completed.

    `processes=False` runs a local Dask cluster's workers as threads of this process (quicker to start;
    the model then shares one GIL, so use it for small jobs and tests, not for speed).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}, expected one of {ENGINES}")
    # Pin the model version now (models/current may move during a long run) and make local paths absolute
    # so Dask workers, whatever their working directory, open the same files.
    job = replace(
        job,
        model=str(resolve_model_dir(Path(job.model)).resolve()),
        articles=str(Path(job.articles).resolve()) if job.articles and Path(job.articles).exists() else job.articles,
    )
    parts = plan(find_sources(data), part_rows)
    out = Output(job.out)
    out.prepare(_manifest(parts, job, part_rows))
    complete = {p.name for p in parts if out.is_complete(p.name)}
    done = [p for p in parts if p.name in complete]
    todo = [p for p in parts if p.name not in complete]
    stats = [existing_stats(p, out) for p in done]
    bar = tqdm(
        total=sum(p.rows for p in parts),
        initial=sum(p.rows for p in done),
        unit=" comments",
        unit_scale=True,
        disable=not progress,
        smoothing=0.1,
    )
    start = time.perf_counter()
    with bar:
        if engine == "local":
            stats += [score_partition(p, job, on_rows=bar.update) for p in todo]
        else:
            stats += run_dask(todo, job, scheduler, workers, lambda s: bar.update(s.rows), processes)
    labels = tuple(read_metadata(Path(job.model))["labels"])
    summary = RunSummary.of(stats, time.perf_counter() - start, labels)
    out.write_json(SUMMARY, summary.as_dict())
    return summary


def run_dask(
    todo: list[Partition],
    job: Job,
    scheduler: str | None,
    workers: int | None,
    on_part: Callable[[PartStats], Any],
    processes: bool = True,
) -> list[PartStats]:
    """One task per partition; each worker process loads the model once (scorer.get_scorer caches it)."""
    from dask.distributed import Client, LocalCluster, as_completed  # only the dask engine needs dask

    if not todo:
        return []
    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler))
        else:
            # One thread per worker: the model is CPU-bound Python/numpy, threads would share one GIL.
            cluster = stack.enter_context(
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        # pure=False: a rerun must score again, not reuse a cached result of a part whose file was lost.
        futures = client.map(score_partition, todo, job=job, pure=False, key=[f"score-{p.name}" for p in todo])
        stats = []
        for future in as_completed(futures):
            stats.append(future.result())
            on_part(stats[-1])
        return stats


def _manifest(parts: list[Partition], job: Job, part_rows: int) -> dict[str, Any]:
    """What must stay the same for a rerun to add to this output instead of mixing two runs."""
    inputs: dict[str, int] = {}
    for p in parts:
        inputs[p.source.path] = inputs.get(p.source.path, 0) + p.rows
    return {
        "model_version": str(read_metadata(Path(job.model))["version"]),
        "policy_version": load_policy(Path(job.policy) if job.policy else None).version,
        "part_rows": part_rows,
        "articles": job.articles,
        "inputs": inputs,
    }
