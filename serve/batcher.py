"""Score concurrent requests together: one model call at a time per process, over everything that is waiting.

Why: the model is CPU-bound, so two calls at once on a small box only fight over the cores (measured: p99
grew with concurrency while throughput stayed flat). Serialising calls fixes the fighting but makes the
eighth of eight concurrent requests wait for seven model calls. Here the first request to find the model idle
runs it for its own comments and for every comment queued behind it (leader/followers, no extra thread), so
a burst of single-comment requests costs a few batched calls instead of one call each.

Used where it pays (serve/predict.py, `moderate`, the one path of /v1/predict and Coral): by every request when a
worker has several embedding threads (a joint call spreads a burst over them), and by requests of more than a
few comments or characters. With one embedding thread, small requests are scored on the event loop instead:
there a joint call only made each request wait for everyone else's comments.

A batch only mixes requests with the same key (the model object, and whether explanations are wanted): a
reload mid-burst never scores a request with a model it did not start with. If a joint call fails, each request is scored alone, so one bad request cannot
fail the others.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from model.inputs import Comment

# Comments per joint call. Large enough to absorb a burst, small enough that a follower that arrives
# during a long batch does not wait for many seconds of someone else's comments.
MAX_BATCH_COMMENTS = 256

Score = Callable[[Any, list[Comment]], list[Any]]


@dataclass(eq=False)
class _Job:
    key: Any
    comments: Sequence[Comment]
    done: bool = False
    result: list[Any] = field(default_factory=list)
    error: BaseException | None = None


class Batcher:
    """score(key, comments) -> one result per comment, computed by `fn(key, comments)` over joint batches."""

    def __init__(self, fn: Score, max_comments: int = MAX_BATCH_COMMENTS) -> None:
        self._fn = fn
        self._max = max_comments
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False

    def score(self, key: Any, comments: Sequence[Comment]) -> list[Any]:
        job = _Job(key, comments)
        with self._cond:
            self._queue.append(job)
            while not job.done and self._busy:
                self._cond.wait()
            if job.done:
                return self._result(job)
            self._busy = True  # this request leads: it scores its own job and whatever waits with it
            batch = self._take(job)
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return self._result(job)

    def _take(self, leader: _Job) -> list[_Job]:
        """The leader's job first, then queued jobs with the same key, oldest first, up to the size cap."""
        self._queue.remove(leader)
        batch, size = [leader], len(leader.comments)
        for job in list(self._queue):
            if job.key == leader.key and size + len(job.comments) <= self._max:
                self._queue.remove(job)
                batch.append(job)
                size += len(job.comments)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        try:
            results = self._fn(batch[0].key, [c for job in batch for c in job.comments])
        except Exception as e:
            if len(batch) == 1:
                batch[0].error = e
            else:
                for job in batch:  # one request's bad input must not fail the requests batched with it
                    try:
                        job.result = self._fn(job.key, list(job.comments))
                    except Exception as own:
                        job.error = own
        else:
            start = 0
            for job in batch:
                job.result = results[start : start + len(job.comments)]
                start += len(job.comments)
        finally:
            for job in batch:
                if job.error is None and len(job.result) != len(job.comments):
                    job.error = RuntimeError("the model call was interrupted before it scored this request")
                job.done = True

    @staticmethod
    def _result(job: _Job) -> list[Any]:
        if job.error is not None:
            raise job.error
        return job.result
