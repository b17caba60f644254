"""Concurrent requests share model calls (serve/batcher.py), and each still gets exactly its own results."""

import threading
import time
from typing import Any

import pytest

from serve.batcher import Batcher


class Recorder:
    """A slow scoring function that records every call it gets: (key, texts)."""

    def __init__(self, delay: float = 0.05) -> None:
        self.calls: list[tuple[Any, list[str]]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, key: Any, comments: list[Any]) -> list[str]:
        with self.lock:
            self.calls.append((key, list(comments)))
        if any(c == "boom" for c in comments):
            raise ValueError("bad comment: boom")
        time.sleep(self.delay)
        return [f"{key}:{c}" for c in comments]


def run_concurrently(batcher: Batcher, jobs: list[tuple[Any, list[str]]]) -> list[Any]:
    results: list[Any] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def worker(i: int) -> None:
        start.wait()
        try:
            results[i] = batcher.score(*jobs[i])
        except Exception as e:  # the assertion below names it
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_a_burst_shares_calls_and_everyone_gets_their_own_results() -> None:
    fn = Recorder()
    jobs = [("m", [f"r{i}-a", f"r{i}-b"]) for i in range(16)]
    results = run_concurrently(Batcher(fn), jobs)
    assert results == [[f"m:r{i}-a", f"m:r{i}-b"] for i in range(16)]
    assert len(fn.calls) < 16, f"16 concurrent requests took {len(fn.calls)} model calls: nothing was batched"
    scored = sorted(c for _, texts in fn.calls for c in texts)
    assert scored == sorted(c for _, texts in jobs for c in texts), "every comment scored exactly once"


def test_different_models_are_never_mixed_in_one_call() -> None:
    fn = Recorder()
    jobs = [("old" if i % 2 else "new", [f"c{i}"]) for i in range(10)]
    results = run_concurrently(Batcher(fn), jobs)
    assert results == [[f"{'old' if i % 2 else 'new'}:c{i}"] for i in range(10)]
    for key, texts in fn.calls:
        assert all(int(t[1:]) % 2 == (key == "old") for t in texts), (key, texts)


def test_one_bad_request_does_not_fail_the_requests_batched_with_it() -> None:
    fn = Recorder()
    jobs = [("m", ["fine-1"]), ("m", ["boom"]), ("m", ["fine-2"]), ("m", ["fine-3"])]
    results = run_concurrently(Batcher(fn), jobs)
    assert results[0] == ["m:fine-1"] and results[2] == ["m:fine-2"] and results[3] == ["m:fine-3"]
    assert isinstance(results[1], ValueError) and "boom" in str(results[1])


def test_the_size_cap_splits_a_burst() -> None:
    fn = Recorder(delay=0.02)
    jobs = [("m", [f"{i}-{k}" for k in range(3)]) for i in range(8)]
    run_concurrently(Batcher(fn, max_comments=6), jobs)
    assert max(len(texts) for _, texts in fn.calls) <= 6


def test_a_single_caller_gets_its_error() -> None:
    with pytest.raises(ValueError, match="boom"):
        Batcher(Recorder()).score("m", ["boom"])
