"""The portable model format (model/portable): data only, checksummed, and the pickled model's probabilities."""

import copy
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from model.artifact import ArtifactError, load_model
from model.inputs import Comment
from model.portable import ARRAYS_FILE, CHECKSUMS_FILE, MODEL_JSON, PortablePredictor, load
from model.portable.__main__ import main
from model.portable.convert import export_model_dir
from model.portable.export import describe
from model.portable.sparse import Rows
from model.portable.text import char_wb_ngrams, word_ngrams

from .conftest import ROOT, TINY

ARTICLE = ("Council votes to close Elm Street library on Sundays", "The town council voted 5-2 on Tuesday.")
# Texts the fixture has none of: empty, whitespace, an article with a title only or a body only, scripts and
# emoji, invisible characters, leetspeak and contacts, and a long text with a long article.
ODD = [
    Comment(""),
    Comment("   \n\t  "),
    Comment("Great article!", "", ""),
    Comment("Which Sundays?", ARTICLE[0], ""),
    Comment("Which Sundays?", "", ARTICLE[1]),
    Comment("héllo wörld ☃ 日本語 Привет 😀😀 ÇA VA ?", *ARTICLE),
    Comment("f\u200bu\u200bc\u200bk you i\u0501iot", *ARTICLE),
    Comment("CALL +1 (888) 555-0143 or mail win@prize.example, visit www.example.com!!!"),
    Comment("the library " * 1500, ARTICLE[0], "Elm Street " * 2000),
]
REEXPORT = "python -m model.portable export SRC_MODEL_DIR DEST"


def tiny_comments() -> list[Comment]:
    rows = [json.loads(line) for line in TINY.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Comment(r["text"], r.get("article_title", ""), r.get("article_body", "")) for r in rows]


def exported(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model_dir(source, tmp_path_factory.mktemp("portable") / "model")


@pytest.fixture(scope="module")
def pickled(tiny_pickled_dir: Path):
    """The tiny model (every block, relevance included) in the pickled format, loaded."""
    return load_model(tiny_pickled_dir)


@pytest.fixture(scope="module")
def pickled_model(tiny_pickled_dir: Path, pickled):
    return tiny_pickled_dir, pickled


@pytest.fixture(scope="module")
def tiny_portable(tiny_pickled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(tiny_pickled_dir, tmp_path_factory)


def assert_same_model(pickled, portable: PortablePredictor, comments: list[Comment]) -> None:
    """Probabilities to 1e-6 (valid, in the same class order), and what serve/ reads besides."""
    expected, found = pickled.predict_proba(comments), portable.predict_proba(comments)
    assert found.shape == (len(comments), len(portable.classes_))
    np.testing.assert_allclose(found.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-6)
    assert portable.classes_.tolist() == pickled.classes_.tolist()
    assert portable.features == tuple(pickled.features)
    assert (portable.needs_article, portable.embedding_threads) == (pickled.needs_article, pickled.embedding_threads)
    featurized = portable.featurize(comments)
    np.testing.assert_allclose(portable.predict_proba(comments, featurized=featurized), found, rtol=0, atol=0)
    assert portable.explain(comments, top_k=25, featurized=featurized) == pickled.explain(comments, top_k=25)
    for name, values in pickled.featurize(comments).blocks.items():
        mine = featurized.blocks[name]
        mine = _dense(mine) if isinstance(mine, Rows) else mine
        theirs = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6, err_msg=f"block {name!r}")


def _dense(rows: Rows) -> np.ndarray:
    out = np.zeros(rows.shape, dtype=np.float64)
    for i in range(rows.shape[0]):
        cols, vals = rows.row(i)
        out[i, cols] = vals
    return out


def test_tiny_model_scores_as_the_pickled_one(pickled, tiny_portable: Path) -> None:
    portable = load(tiny_portable)
    assert {"embedding", "relevance", "lexicon", "char"} <= set(portable.features)
    assert_same_model(pickled.estimator, portable, tiny_comments())
    assert_same_model(pickled.estimator, portable, ODD)
    for one in ODD:  # alone, as the service scores a single comment (no embedding ahead)
        assert_same_model(pickled.estimator, portable, [one])


def test_load_model_reads_a_portable_folder_with_the_metadata(pickled, tiny_portable: Path) -> None:
    loaded = load_model(tiny_portable)
    assert isinstance(loaded.estimator, PortablePredictor)
    assert loaded.version == pickled.version and loaded.metadata["labels"] == pickled.metadata["labels"]
    carried = {k: v for k, v in pickled.metadata.items() if k not in ("sha256", "format_version")}
    assert {k: loaded.metadata.get(k) for k in carried} == carried
    assert "sha256" not in loaded.metadata  # it vouched for model.joblib, which is not in the folder


def test_loading_and_scoring_never_unpickle(tiny_portable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a portable model must load without unpickling anything")

    for module, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (joblib, "load")]:
        monkeypatch.setattr(module, name, refuse)
    loaded = load_model(tiny_portable)
    assert loaded.estimator.predict_proba(ODD).shape == (len(ODD), 3)


def test_arrays_are_plain_numbers_and_strings(tiny_portable: Path) -> None:
    with np.load(tiny_portable / ARRAYS_FILE, allow_pickle=False) as npz:
        kinds = {name: npz[name].dtype.kind for name in npz.files}
    assert set(kinds.values()) <= {"f", "i", "U"}, kinds
    assert {"word.terms", "char.terms", "linear.coef", "relevance.ignored"} <= set(kinds)


def test_scores_with_scikit_learn_and_scipy_unimportable(pickled, tiny_portable: Path) -> None:
    script = (
        "import json, sys\n"
        "for name in ('sklearn', 'scipy', 'joblib'):\n"
        "    sys.modules[name] = None  # any import of them now raises ImportError\n"
        "from model.artifact import load_model\n"
        "from model.inputs import Comment\n"
        "import model.portable\n"
        f"estimator = load_model({str(tiny_portable)!r}).estimator\n"
        "comments = [Comment(*c) for c in json.loads(sys.stdin.read())]\n"
        "print(json.dumps(estimator.predict_proba(comments).tolist()))\n"
    )
    comments = ODD + tiny_comments()[:8]
    rows = json.dumps([[c.text, c.article_title, c.article_body] for c in comments])
    done = subprocess.run(
        [sys.executable, "-c", script], input=rows, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    found = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(found, pickled.estimator.predict_proba(comments), rtol=0, atol=1e-6)


def test_a_shipped_encoder_travels_with_the_model_and_is_checked(pickled, tmp_path: Path) -> None:
    """A model whose encoder lives in its own folder (as a fine-tuned one does) exports with that folder."""
    import shutil
    from dataclasses import replace

    from model.artifact import save_model
    from model.embeddings import BUNDLED_SHA256, EmbedderConfig
    from model.modeldir import ENCODER_DIR

    # The bundled weights stand in for tuned ones: same layout, a pinned sha256, and known answers.
    estimator = pickled.estimator
    bundled = EmbedderConfig().folder()
    tuned = copy.deepcopy(estimator)  # the blocks keep sharing one embedder, as in a pickle
    tuned.embedder_.config = replace(estimator.embedder_.config, path=ENCODER_DIR, sha256=BUNDLED_SHA256)
    source = save_model(
        tuned, tmp_path / "models", dict(pickled.metadata), files={ENCODER_DIR: bundled}, portable=False
    )
    dest = export_model_dir(source, tmp_path / "portable")
    shutil.rmtree(source)  # the portable folder must not lean on the model it came from
    spec = json.loads((dest / MODEL_JSON).read_text(encoding="utf-8"))
    assert spec["encoder"]["folder"] == ENCODER_DIR and spec["encoder"]["config"]["path"] == ENCODER_DIR
    portable = load(dest)
    assert Path(portable.embedder_.config.path) == dest.resolve() / ENCODER_DIR
    np.testing.assert_allclose(portable.predict_proba(ODD), estimator.predict_proba(ODD), rtol=0, atol=1e-6)
    weights = dest / ENCODER_DIR / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=re.escape(str(weights.resolve())) + r".*corrupt or was replaced"):
        load(dest)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_corrupt_arrays_are_refused_naming_the_file_and_the_fix(tiny_portable: Path, tmp_path: Path) -> None:
    folder = copy_of(tiny_portable, tmp_path)
    data = bytearray((folder / ARRAYS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / ARRAYS_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"arrays\.npz has sha256 .*, but model\.json records") as e:
        load_model(folder)
    assert REEXPORT in str(e.value)


def test_edited_model_json_is_refused_naming_the_file_and_the_fix(tiny_portable: Path, tmp_path: Path) -> None:
    folder = copy_of(tiny_portable, tmp_path)
    spec = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
    spec["linear"]["temperature"] = 0.5
    (folder / MODEL_JSON).write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"model\.json has sha256 .*, but checksums\.txt records") as e:
        load(folder)
    assert REEXPORT in str(e.value)


def test_missing_checksums_are_refused(tiny_portable: Path, tmp_path: Path) -> None:
    folder = copy_of(tiny_portable, tmp_path)
    (folder / CHECKSUMS_FILE).unlink()
    with pytest.raises(ArtifactError, match=re.escape(f"{folder / CHECKSUMS_FILE} is missing")):
        load(folder)


def test_labels_come_from_model_json(tiny_portable: Path, tmp_path: Path) -> None:
    from model.checksum import sha256_file

    folder = copy_of(tiny_portable, tmp_path)
    spec = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
    spec["classes"] = ["junk", "abuse", "keep"]
    (folder / MODEL_JSON).write_text(json.dumps(spec), encoding="utf-8")
    lines = [f"{sha256_file(folder / n)}  {n}\n" for n in (MODEL_JSON, ARRAYS_FILE)]
    (folder / CHECKSUMS_FILE).write_text("".join(lines), encoding="utf-8")
    loaded = load_model(folder)
    assert loaded.estimator.classes_.tolist() == loaded.metadata["labels"] == ["junk", "abuse", "keep"]
    assert set(loaded.estimator.explain([Comment("you idiot")])[0]) == {"junk", "abuse", "keep"}


def test_export_command_reports_the_folder_size(tiny_pickled_dir: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "default"
    assert main(["export", str(tiny_pickled_dir), str(dest)]) == 0
    out = capsys.readouterr().out
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert f"wrote {dest}: 3 files, {size / 1e6:.1f} MB" in out
    assert all(name in out for name in (MODEL_JSON, ARRAYS_FILE, CHECKSUMS_FILE))
    assert size < 2_000_000, f"the tiny model exported to {size} bytes; the encoder's weights must not be in it"
    assert main(["export", str(tiny_pickled_dir), str(dest)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_a_block_without_a_portable_form_is_refused() -> None:
    from types import SimpleNamespace

    estimator = SimpleNamespace(blocks_=[SimpleNamespace(name="mystery")])
    with pytest.raises(ArtifactError, match=r"feature block 'mystery' cannot be exported to a portable model"):
        describe(estimator)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "Hello,   World!\n\nNew  paragraph",
        "a b c d",
        "héllo wörld ☃ 日本語 😀",
        "x" * 300,
        "u5n4k3 _id_ 1,000",
    ],
)
def test_analyzers_cut_text_as_scikit_learn_does(text: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b").build_analyzer()
    char = TfidfVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert word_ngrams(text, re.compile(r"(?u)\b\w+\b"), (1, 2), True) == word(text)
    assert char_wb_ngrams(text, (2, 5), True) == char(text)


PREDICT = {
    "comments": [{"id": "a", "text": "Why close the Elm Street library on Sundays?"}, {"id": "b", "text": "idiot"}],
    "article": {"title": ARTICLE[0], "body": ARTICLE[1]},
    "explain": True,
}


def test_a_portable_model_serves_as_the_pickled_one(tmp_path: Path, pickled_model, tiny_portable: Path) -> None:
    from tests.service_app import service

    answers = []
    for name, (model_dir, loaded) in {
        "pickled": pickled_model,
        "portable": (tiny_portable, load_model(tiny_portable)),
    }.items():
        (tmp_path / name).mkdir()  # a database each: the copy-paste memory must not see the other run
        with service(tmp_path / name, loaded, model_dir) as client:
            r = client.post("/v1/predict", json=PREDICT)
            assert r.status_code == 200, r.text
            answers.append([{k: v for k, v in res.items()} for res in r.json()["results"]])
            info = client.get("/v1/model").json()
            assert "relevance" in info["features"] and info["embedding_runtime"]
    pickled, portable = answers
    for mine, theirs in zip(portable, pickled, strict=True):
        assert mine.pop("scores") == pytest.approx(theirs.pop("scores"), abs=1e-6)
        assert mine == theirs  # label, action, reasons, signals (low relevance included) and explanation


def test_python_m_serve_serves_a_portable_folder(tmp_path: Path, pickled_model, tiny_portable: Path) -> None:
    import httpx

    from tests.service_app import real_server

    comments = [Comment(c["text"], ARTICLE[0], ARTICLE[1]) for c in PREDICT["comments"]]
    expected = pickled_model[1].estimator.predict_proba(comments)
    with real_server(tmp_path, tiny_portable) as url:
        r = httpx.post(f"{url}/v1/predict", json=PREDICT, timeout=60)
        assert r.status_code == 200, r.text
    labels = pickled_model[1].metadata["labels"]
    found = [[res["scores"][label] for label in labels] for res in r.json()["results"]]
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-6)
