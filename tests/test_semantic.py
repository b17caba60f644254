"""Sentence embeddings from the shipped weights, offline and verified; article relevance; lean artifacts."""

import json
import pickle
import re
import socket
from pathlib import Path

import numpy as np
import pytest

from model import Comment, load_model
from model.embeddings import (
    BUNDLED_SHA256,
    UNVERIFIED,
    Embedder,
    EmbedderConfig,
    EmbeddingError,
    Tokenizer,
    _load_once,
    weights_file,
)
from model.relevance import RELEVANCE_NAMES, Relevance

from .conftest import TINY

ARTICLE_TITLE = "Council votes to close Elm Street library on Sundays"
ARTICLE_BODY = (
    "The town council voted 5-2 on Tuesday to close the Elm Street branch library on Sundays from March, "
    "saving an estimated 40,000 a year. Librarians said Sunday is the busiest day for families and students."
)
ON_TOPIC = "Closing the Elm Street library on Sundays hurts students; the council should find the 40,000 elsewhere."
GENERIC = "Great article, thanks for sharing! Keep up the good work."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    # The sentence-transformers recipe as published (fp32 weights, the start of a text), which the tests below
    # compare with; models train at the int8, head-and-tail defaults.
    return Embedder(EmbedderConfig(precision="fp32", max_length=128, truncation="head"))


def test_loads_and_embeds_with_the_network_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is off in this test")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _load_once.cache_clear()  # force a real load from disk under the guard
    vectors = Embedder().embed(["the council voted to close the library", "you are an idiot"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_sha256_mismatch_is_refused_naming_file_and_fix() -> None:
    folder = EmbedderConfig().folder()
    wrong = EmbedderConfig(path=str(folder), sha256="0" * 64)
    with pytest.raises(EmbeddingError, match=re.escape(str(weights_file(folder))) + r".*expected 0{64}.*reinstall"):
        Embedder(wrong).embed(["x"])


def test_own_folder_needs_a_sha256_or_an_explicit_opt_out(tmp_path: Path) -> None:
    folder = EmbedderConfig().folder()
    with pytest.raises(EmbeddingError, match="has no sha256 configured"):
        Embedder(EmbedderConfig(path=str(folder))).embed(["x"])
    assert Embedder(EmbedderConfig(path=str(folder), sha256=UNVERIFIED)).embed(["x"]).shape == (1, 384)
    with pytest.raises(EmbeddingError, match="no weights file"):
        Embedder(EmbedderConfig(path=str(tmp_path), sha256=UNVERIFIED)).embed(["x"])


def test_embeddings_match_the_sentence_transformers_recipe(embedder: Embedder) -> None:
    st = pytest.importorskip("sentence_transformers", reason="reference implementation not installed")
    texts = ["short", "A longer comment about the council budget and the Sunday library hours, with numbers 5-2."]
    reference = st.SentenceTransformer(str(EmbedderConfig().folder()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    cosine = (embedder.embed(texts) * reference).sum(axis=1)
    assert cosine.min() > 0.999, cosine


def test_embedder_pickles_without_weights_and_still_embeds(embedder: Embedder) -> None:
    before = embedder.embed(["same text twice"])
    blob = pickle.dumps(embedder)
    assert len(blob) < 2_000, f"an Embedder pickle should hold only its config, found {len(blob)} bytes"
    np.testing.assert_allclose(pickle.loads(blob).embed(["same text twice"]), before, atol=1e-6)


def test_relevance_is_higher_on_topic_than_for_generic_praise(embedder: Embedder) -> None:
    train = [json.loads(line) for line in TINY.read_text(encoding="utf-8").splitlines() if line.strip()]
    comments = [Comment(r["text"], r.get("article_title", ""), r.get("article_body", "")) for r in train]
    block = Relevance(embedder).fit(comments, [c.text for c in comments])
    pair = [Comment(ON_TOPIC, ARTICLE_TITLE, ARTICLE_BODY), Comment(GENERIC, ARTICLE_TITLE, ARTICLE_BODY)]
    values = block.transform(pair, [c.text for c in pair])
    for name in ("sim_article", "sim_title", "shared_idf", "shared_terms"):
        k = RELEVANCE_NAMES.index(name)
        assert values[0, k] > values[1, k], (name, values[:, k])


def test_relevance_without_article_is_neutral(embedder: Embedder) -> None:
    comments = [Comment(ON_TOPIC, ARTICLE_TITLE, ARTICLE_BODY), Comment(GENERIC, ARTICLE_TITLE, ARTICLE_BODY)]
    block = Relevance(embedder).fit(comments, [c.text for c in comments])
    bare = [Comment(ON_TOPIC), Comment(GENERIC)]
    raw = block._fill(block._raw(bare, [c.text for c in bare]))
    np.testing.assert_allclose(raw[:, :-1], np.tile(block.neutral_, (2, 1)))
    assert (raw[:, -1] == 0).all()


def test_tiny_model_records_semantic_features_and_stays_small(tiny_model_dir: Path, tiny_loaded) -> None:
    meta = tiny_loaded.metadata
    assert {"embedding", "relevance"} <= set(meta["features"])
    assert meta["needs_article"] is True
    assert meta["embedding_model"]["sha256"] == BUNDLED_SHA256
    assert "MiniLM" in meta["embedding_model"]["name"]
    # The artifact says how much of a comment its encoder reads, and serving reads the same.
    assert (meta["embedding_model"]["max_length"], meta["embedding_model"]["truncation"]) == (64, "head_tail")
    assert tiny_loaded.estimator.embedder_.config.truncation == "head_tail"
    size = sum(p.stat().st_size for p in tiny_model_dir.resolve().rglob("*") if p.is_file())
    assert size < 5_000_000, f"the model folder is {size} bytes: the embedding weights must not be in it"


def test_reloaded_model_predicts_with_and_without_article(tiny_model_dir: Path) -> None:
    loaded = load_model(tiny_model_dir)
    proba = loaded.estimator.predict_proba(
        [Comment(ON_TOPIC, ARTICLE_TITLE, ARTICLE_BODY), Comment(GENERIC), "you are a pathetic idiot"]
    )
    assert proba.shape == (3, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert loaded.estimator.needs_article


@pytest.fixture(scope="module")
def pickled(tiny_pickled_dir: Path):
    """The fitted scikit-learn model (pickled format): the tests below read its blocks."""
    return load_model(tiny_pickled_dir)


def test_features_computed_once_give_the_same_answers(pickled) -> None:
    """The service computes features once per batch and reuses them; that must change no number."""
    from model.normalize import normalize
    from serve.explain import relevance

    estimator = pickled.estimator
    comments = [Comment(ON_TOPIC, ARTICLE_TITLE, ARTICLE_BODY), Comment(GENERIC), Comment("you pathetic idiot")]
    featurized = estimator.featurize(comments)
    np.testing.assert_array_equal(
        estimator.predict_proba(comments, featurized=featurized), estimator.predict_proba(comments)
    )
    assert estimator.explain(comments, featurized=featurized) == estimator.explain(comments)
    # The block on its own, back in cosine units: what the service reported before it reused the features.
    block = next(b for b in estimator.blocks_ if b.name == "relevance")
    own = block.scaler_.inverse_transform(block.transform(comments[:1], [normalize(comments[0].text)]))
    reused = relevance(estimator, comments, featurized)
    fresh = [round(float(own[0, 0]), 4), None, None]
    assert reused == fresh and reused[0] is not None and reused[1] is None
    assert reused[0] > 0.3, "an on-topic comment's cosine to its article, in cosine units"


def test_feature_name_cache_is_not_pickled_and_refit_rebuilds_it(pickled) -> None:
    import pickle

    estimator = pickled.estimator
    names = estimator.feature_names()
    assert estimator.feature_names() is names, "built once per loaded model"
    assert "_feature_names" not in pickle.loads(pickle.dumps(estimator)).__dict__


def test_embedding_ahead_changes_no_feature_and_keeps_column_order(pickled) -> None:
    """transform_blocks embeds in the background while n-gram blocks run; the matrix must be the same."""
    import scipy.sparse as sp

    from model.features import normalize_all, transform_blocks

    estimator = pickled.estimator
    comments = [Comment(f"{ON_TOPIC} ({i})", ARTICLE_TITLE, ARTICLE_BODY) for i in range(3)] + [Comment(GENERIC)]
    normalized = normalize_all(comments)
    ahead = transform_blocks(estimator.blocks_, comments, normalized)
    one_by_one = [sp.csr_matrix(b.transform(comments, normalized)) for b in estimator.blocks_]
    np.testing.assert_allclose(ahead.matrix.toarray(), sp.hstack(one_by_one).toarray(), atol=1e-6)
    assert list(ahead.blocks) == [b.name for b in estimator.blocks_]


LONG_START = " ".join(["The council's budget report lists every branch library and its Sunday visitors."] * 12)


def test_head_tail_reads_both_ends_of_a_long_comment_and_all_of_a_short_one() -> None:
    folder = EmbedderConfig().folder()
    full, head, head_tail = Tokenizer(folder, 512), Tokenizer(folder, 16), Tokenizer(folder, 16, "head_tail")
    text = LONG_START + " Call 555-0134 now for a free loan!"
    ids = full([text])["input_ids"][0]
    cut = head_tail([text])["input_ids"][0]
    assert len(cut) == 16
    assert list(cut[:8]) == list(ids[:8]), "the first half: [CLS] and the comment's first word pieces"
    assert list(cut[8:]) == list(ids[-8:]), "the second half: the comment's last word pieces and [SEP]"
    assert list(head([text])["input_ids"][0]) == list(ids[:15]) + [ids[-1]], "head: the first ones and [SEP]"
    short = "Sunday hours matter."
    assert (head_tail([short])["input_ids"] == full([short])["input_ids"]).all()


def test_head_tail_embedding_sees_the_end_that_head_truncation_drops() -> None:
    a, b = LONG_START + " Great article, thanks.", LONG_START + " Subscribe to my channel for crypto tips!!!"
    head = Embedder(EmbedderConfig(precision="int8", max_length=32, truncation="head"), cache_size=0).embed([a, b])
    head_tail = Embedder(EmbedderConfig(precision="int8", max_length=32, truncation="head_tail"), cache_size=0).embed(
        [a, b]
    )
    np.testing.assert_allclose(head[0], head[1], atol=1e-6)  # the endings are past the first 32 word pieces
    assert float(head_tail[0] @ head_tail[1]) < 0.99


def test_articles_are_read_further_than_comments_and_cached_apart() -> None:
    config = EmbedderConfig(precision="int8", max_length=16, truncation="head_tail", document_max_length=128)
    embedder = Embedder(config)
    article = LONG_START  # about 200 word pieces
    as_comment, as_document = embedder.embed([article]), embedder.embed([article], document=True)
    assert float(as_comment[0] @ as_document[0]) < 0.99, "a document is not cut like a comment"
    np.testing.assert_allclose(
        as_document,
        Embedder(EmbedderConfig(precision="int8", max_length=128, truncation="head")).embed([article]),
        atol=1e-6,
    )
    np.testing.assert_array_equal(embedder.embed([article]), as_comment)  # each remembered under its own key


def test_encoder_settings_are_checked_and_have_one_set_of_defaults() -> None:
    from training.config import TrainConfig

    with pytest.raises(EmbeddingError, match="'middle' is not one of head, head_tail"):
        EmbedderConfig(truncation="middle")
    with pytest.raises(ValueError, match="embedding_truncation must be one of head, head_tail, found 'middle'"):
        TrainConfig().updated({"embedding_truncation": "middle"})
    with pytest.raises(ValueError, match="embedding_max_length must be between 8 and 512 word pieces.*found 1024"):
        TrainConfig().updated({"embedding_max_length": 1024})
    trained = TrainConfig()
    defaults = EmbedderConfig()
    assert (trained.embedding_max_length, trained.embedding_truncation, trained.embedding_precision) == (
        defaults.max_length,
        defaults.truncation,
        defaults.precision,
    ), "training and the encoder share one set of defaults"
