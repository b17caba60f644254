"""Every path that reads comment text runs in time linear in its length, whatever the text's shape.

Python's `re` backtracks, so a pattern can be quadratic on text of the right shape ("ab.ab.ab...": a 10 KB
comment once held a worker for 24 s). Nothing here is an absolute timing: each check compares the same
function on the same shape at n and 4n characters inside one run. Linear work grows 4x, quadratic 16x; the
bound of 8x leaves room for noise while failing any quadratic path (tests/shapes.py has the shapes).
"""

import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.lexicon import lexicon_features
from model.normalize import normalize
from model.signals import signals
from serve.copypaste import simhash
from serve.coral import plain_text

from .shapes import SHAPES, ordinary

pytestmark = pytest.mark.slow  # hypothesis examples, each timed at n and 4n characters, best of 3

SMALL, LARGE = 2_500, 10_000
MAX_GROWTH = 8.0
# Below this, timer noise dominates and the work is harmless whatever its growth.
NOISE_FLOOR_S = 0.004


def _best_of(fn: Callable[[str], object], text: str, runs: int = 3) -> float:
    best = float("inf")
    for i in range(runs):
        variant = text[:-1] + str(i)  # a new string each run, so no cache answers it
        started = time.perf_counter()
        fn(variant)
        best = min(best, time.perf_counter() - started)
    return best


def growth(fn: Callable[[str], object], make: Callable[[int], str]) -> tuple[float, float]:
    """(time at LARGE / time at SMALL, time at LARGE in seconds)."""
    small, large = _best_of(fn, make(SMALL)), _best_of(fn, make(LARGE))
    return large / max(small, 1e-6), large


def assert_linear(fn: Callable[[str], object], make: Callable[[int], str], what: str) -> None:
    ratio, large = growth(fn, make)
    if large < NOISE_FLOOR_S:
        return
    if ratio > MAX_GROWTH:  # one retry: a busy machine can stall either run
        ratio, large = growth(fn, make)
    assert large < NOISE_FLOOR_S or ratio <= MAX_GROWTH, (
        f"{what}: 4x the text took {ratio:.1f}x the time ({large * 1000:.0f} ms at {LARGE} characters); "
        "a pattern or loop is super-linear on this shape"
    )


TEXT_PATHS: dict[str, Callable[[str], object]] = {
    "normalize": normalize,
    "signals": signals,
    "lexicon": lambda t: lexicon_features(normalize(t)),
    "copy-paste fingerprint": simhash,
    "coral html": plain_text,
}


@pytest.mark.parametrize("path", sorted(TEXT_PATHS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_text_path_is_linear_on_each_shape(path: str, shape: str) -> None:
    assert_linear(TEXT_PATHS[path], SHAPES[shape], f"{path} on {shape!r}")


# Characters that separate, join or mark things in the patterns of model/normalize.py and model/lexicon.py.
ADVERSARIAL = "ab1@.-_/:<>*$ \u200bаο🤡w()[]#!'\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=st.text(alphabet=ADVERSARIAL, min_size=1, max_size=6))
def test_normalize_is_linear_on_any_repeated_unit(unit: str) -> None:
    assert_linear(normalize, lambda n: (unit * (n // len(unit) + 1))[:n], f"normalize on {unit!r} repeated")


def test_the_whole_predict_path_is_linear(client) -> None:
    """The service end to end (schema, model, explanation, copy-paste, audit) on the worst shapes."""

    def predict(text: str) -> None:
        r = client.post("/v1/predict", json={"comments": [{"text": text}], "explain": True})
        assert r.status_code == 200, r.text

    for shape in ("ab.", "words.", "a-", "a.@", "<", "a*", "mixed scripts"):
        assert_linear(predict, SHAPES[shape], f"POST /v1/predict on {shape!r}")
    assert_linear(predict, ordinary, "POST /v1/predict on ordinary text")


def test_long_requests_are_not_scored_on_the_event_loop() -> None:
    """A 10,000-character comment goes to a thread: on the loop it would hold /healthz and every small request."""
    from types import SimpleNamespace

    from model.inputs import Comment
    from serve.predict import INLINE_MAX_CHARS, scores_inline

    services = SimpleNamespace(loaded=SimpleNamespace(estimator=SimpleNamespace(embedding_threads=1)))
    short = [Comment("a short comment")]
    long = [Comment(ordinary(INLINE_MAX_CHARS + 1))]
    long_article = [
        Comment("short", "t", ordinary(INLINE_MAX_CHARS)),
        Comment("also short", "t", ordinary(INLINE_MAX_CHARS)),
    ]
    assert scores_inline(services, short)
    assert not scores_inline(services, long)
    assert not scores_inline(services, long_article)
    assert scores_inline(services, [Comment("short", "t", "b")] * 8), "an article shared by comments counts once"
