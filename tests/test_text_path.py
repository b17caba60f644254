"""One text path: a comment's text is normalised once per request, by the model's featurize, and serve/
(explanation, fired signals, copy-paste fingerprint) reads that, for the pickled and the portable model."""

import importlib
import sys

import pytest

from serve.copypaste import simhash, simhash_words
from serve.explain import label_phrases, prepare
from tests.service_app import service


def _count_normalize(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of model.normalize.normalize, from whichever module imported it by name."""
    # model/__init__ re-exports the function under the submodule's name, so reach the module itself.
    original, calls = importlib.import_module("model.normalize").normalize, []

    def counting(text: str) -> str:
        calls.append(text)
        return original(text)

    for module in list(sys.modules.values()):
        if getattr(module, "normalize", None) is original:
            monkeypatch.setattr(module, "normalize", counting)
    return calls


@pytest.mark.parametrize("which", ["pickled", "portable"])
def test_each_comment_is_normalised_once_per_request(
    which, tmp_path, tiny_loaded, tiny_model_dir, tiny_pickled_dir, monkeypatch
):
    from model.artifact import load_model

    model_dir, loaded = tiny_model_dir, tiny_loaded  # what training.fit writes: portable
    if which == "pickled":
        model_dir = tiny_pickled_dir
        loaded = load_model(model_dir)
    texts = [f"Call 555-0{i}99 now for cheap loans, visit example{i}.com today {i}" for i in range(3)]
    with service(tmp_path, loaded, model_dir) as client:
        calls = _count_normalize(monkeypatch)
        body = {"comments": [{"text": t} for t in texts], "explain": True}
        response = client.post("/v1/predict", json=body)
    assert response.status_code == 200, response.text
    assert sorted(calls) == sorted(texts), f"normalize ran {len(calls)} times for {len(texts)} comments"
    result = response.json()["results"][0]
    assert result["explanation"]["signals"]["phones"] == 1 and result["explanation"]["signals"]["links"] == 1


def test_prepared_text_gives_what_the_text_alone_gives():
    text = "Thanks for this great post!!! Visit my site cheap-pills.example.com for more, you idiot"
    prepared = prepare(text)
    assert simhash_words(prepared.words) == simhash(text)
    raw = {"toxic": [("word:idiot", 1.0), ("lexicon:insults", 0.5)], "spam": [("signal:links", 0.7)]}
    assert label_phrases(raw, prepared) == label_phrases(raw, text)


def test_serve_reads_the_models_own_counts(default_model_dir):
    """prepare_all takes the signal and lexicon values featurize computed; they equal computing them afresh."""
    from model.artifact import load_model
    from model.inputs import Comment
    from serve.explain import prepare_all

    estimator = load_model(default_model_dir).estimator
    texts = ["Call 555-0199 now, visit cheap.example.com!!!", "You absolute clown, read the article first."]
    comments = [Comment(t) for t in texts]
    featurized = estimator.featurize(comments)
    assert set(featurized.counts) == {"signals", "lexicon"}
    assert prepare_all(comments, featurized) == [prepare(t) for t in texts]
