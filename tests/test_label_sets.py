"""Labels are data: a model trained on four labels is served with four, and nothing assumes the rubric's three.

One model is trained here with `python -m training.fit --labels spam,toxic,substantive,offtopic` on the tiny
corpus plus twelve off-topic comments written for this test (tests/fixtures/offtopic.jsonl). The service,
its policy, feedback and batch scoring then take the labels from the model directory; a policy naming a
label the model lacks is refused where it meets the model, never silently ignored.
"""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from model.artifact import load_model, read_metadata
from model.policy import PolicyError
from tests.conftest import FIXTURES, TINY
from tests.service_app import service, write_policy
from training import evaluate as evaluate_module
from training import fit
from training import score as score_module
from training.config import TrainConfig

FOUR = ["spam", "toxic", "substantive", "offtopic"]
OFFTOPIC = FIXTURES / "offtopic.jsonl"
ARTICLE = {"title": "Council votes to close Elm Street library on Sundays", "body": "The council voted 5-2."}
# Holds a comment the four-label model thinks off-topic; spam and toxic as usual.
FOUR_LABEL_POLICY = """
version = "four-labels-1"
[thresholds.spam]
hold = 0.6
reject = 0.95
[thresholds.toxic]
hold = 0.5
reject = 0.95
[thresholds.offtopic]
hold = 0.4
reject = 1.0
"""


@pytest.fixture(scope="module")
def four_label_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("four")
    argv = ["--data", str(TINY), "--data", str(OFFTOPIC), "--no-real", "--labels", ",".join(FOUR), "--out", str(out)]
    argv += ["-q"]
    assert fit.main(argv) == 0
    return out / "current"


def test_the_model_directory_carries_the_four_labels(four_label_dir: Path) -> None:
    meta = read_metadata(four_label_dir)
    assert meta["labels"] == FOUR
    assert meta["training"]["data"]["label_counts"]["offtopic"] == 12
    assert set(meta["metrics"]["held_out"]["per_label"]) == set(FOUR)
    loaded = load_model(four_label_dir)
    proba = loaded.estimator.predict_proba(["Anyone know a good pizza place near the station?"])
    assert proba.shape == (1, 4)


def test_the_service_scores_decides_and_takes_feedback_in_the_models_labels(
    four_label_dir: Path, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, FOUR_LABEL_POLICY)
    loaded = load_model(four_label_dir)
    with service(tmp_path, loaded, four_label_dir, policy_file=policy) as client:
        assert client.get("/v1/model").json()["labels"] == FOUR
        text = "Random question but does anyone know when the cooking final is on tonight?"
        body = {"comments": [{"id": "c1", "text": text, "article": ARTICLE}], "explain": True}
        result = client.post("/v1/predict", json=body).json()["results"][0]
        assert set(result["scores"]) == set(FOUR)
        assert set(result["explanation"]["labels"]) == set(FOUR)
        assert result["label"] == "offtopic", result["scores"]
        assert result["action"] == "hold"
        assert any(r.startswith("offtopic score") for r in result["reasons"]), result["reasons"]

        feedback = {"comment_id": "c1", "text": text, "label": "offtopic", "article": ARTICLE}
        assert client.post("/v1/feedback", json=feedback).status_code == 201
        refused = client.post("/v1/feedback", json={**feedback, "label": "rude"})
        assert refused.status_code == 422
        error = refused.json()["detail"][0]
        assert error["loc"] == ["body", "label"]
        assert "spam, toxic, substantive, offtopic" in error["msg"]


def test_a_policy_threshold_for_a_label_the_model_lacks_stops_the_start(
    tiny_model_dir: Path, tiny_loaded, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, FOUR_LABEL_POLICY)
    with pytest.raises(PolicyError) as caught, service(tmp_path, tiny_loaded, tiny_model_dir, policy_file=policy):
        pass
    message = str(caught.value)
    assert "policy file policy.toml" in message
    assert "thresholds for ['offtopic']" in message
    assert "['spam', 'toxic', 'substantive']" in message


def test_a_reload_to_a_model_lacking_a_policy_label_is_refused_and_the_old_one_serves(
    four_label_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(four_label_dir, models / "four")
    (models / "current").symlink_to("four")
    policy = write_policy(tmp_path, FOUR_LABEL_POLICY)
    with service(tmp_path, load_model(models / "current"), models / "current", policy_file=policy) as client:
        shutil.copytree(tiny_model_dir.resolve(), models / "three")
        (models / "current").unlink()
        (models / "current").symlink_to("three")
        answer = client.post("/v1/admin/reload")
        assert answer.status_code == 409
        assert "thresholds for ['offtopic']" in answer.json()["detail"]
        assert client.get("/v1/model").json()["labels"] == FOUR


def test_batch_scoring_writes_a_column_per_label_of_the_model(four_label_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": "Lost a black umbrella on the number 9 bus, anyone seen it?", **ARTICLE}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    policy = write_policy(tmp_path, FOUR_LABEL_POLICY)
    out = tmp_path / "scored"
    argv = [
        "--model",
        str(four_label_dir),
        "--policy",
        str(policy),
        "--out",
        str(out),
        "--no-progress",
        "--data",
        str(data),
    ]
    assert score_module.main(argv) == 0
    table = pq.read_table(next((out / "scored").iterdir()))
    assert [c for c in table.column_names if c in FOUR] == FOUR
    summary = json.loads((out / "_summary.json").read_text(encoding="utf-8"))
    assert list(summary["labels"]) == FOUR


def test_batch_scoring_refuses_a_policy_for_labels_the_model_lacks(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "hello there"}) + "\n", encoding="utf-8")
    policy = write_policy(tmp_path, FOUR_LABEL_POLICY)
    argv = ["--model", str(tiny_model_dir), "--policy", str(policy), "--out", str(tmp_path / "o"), "--data", str(data)]
    argv += ["--no-progress"]
    assert score_module.main(argv) != 0


def test_evaluation_reports_say_they_cover_the_rubric_labels(four_label_dir: Path, tmp_path: Path, capsys) -> None:
    argv = ["--model", str(four_label_dir), "--data", str(TINY), "--out", str(tmp_path / "report")]
    assert evaluate_module.main(argv) != 0
    assert "evaluation reports are built for the rubric's labels" in capsys.readouterr().err


def test_training_refuses_rubric_labelled_real_comments_for_a_model_without_those_labels(tmp_path: Path) -> None:
    real = tmp_path / "public"
    real.mkdir()  # exists, so the real comments would be read
    config = TrainConfig(data=[str(TINY)], real=str(real), labels=["junk", "abuse", "keep"], out=str(tmp_path))
    with pytest.raises(fit.DataError, match=r"lack \['spam', 'toxic', 'substantive'\]; train on your own data alone"):
        fit.load_real_for(config)


@pytest.mark.parametrize(
    ("labels", "found"),
    [
        (["Spam", "toxic"], r"\['Spam'\] are not labels"),
        (["spam"], "at least two distinct labels"),
        (["a", "a"], "distinct"),
    ],
)
def test_a_bad_label_set_in_the_training_config_is_refused(labels: list[str], found: str) -> None:
    with pytest.raises(ValueError, match=found):
        TrainConfig().updated({"labels": labels}, origin="config.toml")


def test_a_row_with_a_label_outside_the_config_names_the_row_and_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"text": "hello", "label": "offtopic"}) + "\n", encoding="utf-8")
    with pytest.raises(fit.DataError, match=r"rows.jsonl, line 1: unknown label 'offtopic'.*--labels"):
        fit.load_labelled([str(data)])


@pytest.fixture(scope="module")
def renamed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus with the rubric's labels renamed: a model that predicts junk, abuse and keep."""
    folder = tmp_path_factory.mktemp("renamed")
    names = {"spam": "junk", "toxic": "abuse", "substantive": "keep"}
    rows = [json.loads(line) for line in TINY.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = folder / "renamed.jsonl"
    data.write_text("".join(json.dumps({**r, "label": names[r["label"]]}) + "\n" for r in rows), encoding="utf-8")
    argv = ["--data", str(data), "--no-real", "--labels", "junk,abuse,keep", "--out", str(folder / "models"), "-q"]
    assert fit.main(argv) == 0
    return folder / "models" / "current"


RENAMED_POLICY = """
version = "renamed-1"
[thresholds.junk]
hold = 0.6
reject = 0.95
[thresholds.abuse]
hold = 0.5
reject = 0.95
"""


def test_perspective_attributes_read_from_labels_the_model_lacks_are_refused_by_name(
    renamed_dir: Path, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, RENAMED_POLICY)
    with service(tmp_path, load_model(renamed_dir), renamed_dir, policy_file=policy) as client:
        scores = client.post("/v1/predict", json={"comments": [{"text": "you idiot"}]}).json()["results"][0]["scores"]
        assert set(scores) == {"junk", "abuse", "keep"}
        body = {"comment": {"text": "you idiot"}, "requestedAttributes": {"TOXICITY": {}}}
        answer = client.post("/v1alpha1/comments:analyze", json=body)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        assert "read from the label 'toxic', which the model being served does not predict" in error["message"]
        suggest = {"comment": {"text": "you idiot"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}
        refused = client.post("/v1alpha1/comments:suggestscore", json=suggest)
        assert refused.status_code == 400 and "'toxic'" in refused.json()["error"]["message"]
