"""Articles, feedback, audit and export over HTTP (the data routers on a real Store and SQLite file), and
feedback into training: `training.export_feedback` and `training.fit --feedback`."""

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model.artifact import LoadedModel, read_metadata
from serve.auth import KeyRing
from serve.routes_data import admin_data_router, data_router
from serve.settings import Settings
from serve.state import ModelHolder
from storage import AuditEntry, FeedbackIn, Store
from tests.conftest import ROOT, TINY, free_port
from training import export_feedback as export_module
from training import fit
from training.data import load_labelled

ARTICLE = {
    "title": "Council votes to close Elm Street library on Sundays",
    "body": "The council voted 5-2...",
    "url": "",
}


def make_app(store: Store | None, loaded: LoadedModel) -> FastAPI:
    app = FastAPI()
    app.state.store = store
    app.state.holder = ModelHolder(loaded.path, loaded)  # feedback labels are checked against its labels
    app.state.keyring = KeyRing(())  # no keys: open mode (tests/test_auth.py covers keys and scopes)
    app.include_router(data_router)
    app.include_router(admin_data_router)
    return app


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'moderation.sqlite3'}"


@pytest.fixture()
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture()
def api(store: Store, tiny_loaded: LoadedModel) -> Iterator[TestClient]:
    with TestClient(make_app(store, tiny_loaded)) as client:
        yield client


def feedback_body(**overrides: object) -> dict:
    body: dict = {
        "comment_id": "c1",
        "text": "Amazing article!!! Visit my shop for cheap watches",
        "label": "spam",
        "moderator_id": "mod-1",
        "article_id": "a1",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def error_locs(response: httpx.Response) -> list[list]:
    return [e["loc"] for e in response.json()["detail"]]


# Articles


def test_put_then_get_article(api: TestClient) -> None:
    created = api.put("/v1/articles/a1", json=ARTICLE | {"url": "https://news.example/a1"})
    assert created.status_code == 201
    assert created.json()["title"] == ARTICLE["title"]
    replaced = api.put("/v1/articles/a1", json=ARTICLE | {"title": "Library stays open after all"})
    assert replaced.status_code == 200
    got = api.get("/v1/articles/a1")
    assert got.status_code == 200
    assert (got.json()["title"], got.json()["url"]) == ("Library stays open after all", "")


def test_unknown_article_is_404_without_repeating_the_id(api: TestClient) -> None:
    response = api.get("/v1/articles/nope-<script>")
    assert response.status_code == 404
    assert "PUT /v1/articles" in response.json()["detail"]
    assert "nope" not in response.text  # README: answers never echo the client's input


@pytest.mark.parametrize("sent", ["news/2024/elm-street", "news%2F2024%2Felm-street", "news/2024%2Felm-street"])
def test_article_ids_may_hold_slashes(api: TestClient, store: Store, sent: str) -> None:
    # The id is the rest of the path, percent-decoded once: "/" and "%2F" are the same character.
    assert api.put(f"/v1/articles/{sent}", json=ARTICLE).status_code == 201
    assert store.get_article("news/2024/elm-street") is not None
    for other in ("news/2024/elm-street", "news%2F2024%2Felm-street"):
        got = api.get(f"/v1/articles/{other}")
        assert got.status_code == 200 and got.json()["id"] == "news/2024/elm-street"
    assert api.put(f"/v1/articles/{sent}/", json=ARTICLE).status_code == 201  # a trailing "/" is another id


def test_one_decoding_per_article_id(api: TestClient, store: Store) -> None:
    # (That %25 is decoded once, never twice, is tested on a real server, tests/test_hostile_requests.py:
    # Starlette's TestClient decodes the path twice.)
    # Escapes that are not UTF-8 used to become U+FFFD, so %FF and %FE named the same article.
    for bad in ("a%FF", "a%FE", "a%C3"):
        response = api.put(f"/v1/articles/{bad}", json=ARTICLE)
        assert response.status_code == 422, response.text
        assert error_locs(response) == [["path", "article_id"]] and "UTF-8" in response.text
        assert api.get(f"/v1/articles/{bad}").status_code == 422
    assert api.put("/v1/articles/caf%C3%A9", json=ARTICLE).status_code == 201
    assert store.get_article("café") is not None


@pytest.mark.parametrize("bad", ["a%00b", "a%0Ab", "a%7Fb"])
def test_article_ids_with_control_characters_are_422(api: TestClient, bad: str) -> None:
    # PostgreSQL refuses NUL in its String columns: refused here, naming the field, not a 500 at the write.
    for response in (api.put(f"/v1/articles/{bad}", json=ARTICLE), api.get(f"/v1/articles/{bad}")):
        assert response.status_code == 422 and error_locs(response) == [["path", "article_id"]]
        assert "control characters" in response.text


def test_audit_ids_may_hold_slashes(api: TestClient, store: Store) -> None:
    entry = AuditEntry("https://news.example/c/1", "v1", {"spam": 1.0}, "spam", "approve", "approve", "p", False, [])
    store.add_audit([entry])
    for sent in ("https://news.example/c/1", "https%3A%2F%2Fnews.example%2Fc%2F1"):
        body = api.get(f"/v1/audit/{sent}").json()
        assert body["comment_id"] == entry.comment_id and len(body["entries"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "no title"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t", "artcle": "typo"}, "artcle"),
        ({"title": "t", "body": "x" * 100_001}, "body"),
        ({"title": "t", "url": 5}, "url"),
    ],
)
def test_bad_article_is_422_naming_the_field(api: TestClient, body: dict, field: str) -> None:
    response = api.put("/v1/articles/a1", json=body)
    assert response.status_code == 422
    assert any(loc[-1] == field for loc in error_locs(response))


def test_the_schema_says_a_title_needs_a_visible_character(api: TestClient) -> None:
    # A whitespace-only title is refused (above); the OpenAPI schema says so, so clients and fuzzers know.
    schema = api.get("/openapi.json").json()["components"]["schemas"]["ArticlePut"]
    assert schema["properties"]["title"]["pattern"] == r"\S"
    response = api.put("/v1/articles/a1", json={"title": "\n"})
    assert response.status_code == 422 and "non-whitespace" in response.text


def test_over_long_article_id_is_422(api: TestClient) -> None:
    response = api.put("/v1/articles/" + "x" * 257, json=ARTICLE)
    assert response.status_code == 422
    assert ["path", "article_id"] in error_locs(response)


# Feedback


def test_feedback_with_stored_article_snapshots_it(api: TestClient, store: Store) -> None:
    api.put("/v1/articles/a1", json=ARTICLE)
    response = api.post("/v1/feedback", json=feedback_body(label="SPAM ", site_id="site-a"))
    assert response.status_code == 201
    ident = response.json()["id"]
    api.put("/v1/articles/a1", json=ARTICLE | {"title": "Edited later"})  # must not rewrite the feedback
    (row,) = list(store.iter_feedback())
    assert (row.id, row.label, row.site_id, row.article_title) == (ident, "spam", "site-a", ARTICLE["title"])
    assert row.created_at.tzinfo is not None


def test_feedback_with_inline_article(api: TestClient, store: Store) -> None:
    body = feedback_body(article_id=None, article={"title": "Inline title", "body": "Inline body"}, label="toxic")
    assert api.post("/v1/feedback", json=body).status_code == 201
    (row,) = list(store.iter_feedback())
    assert (row.article_id, row.article_title, row.article_body, row.label) == (
        None,
        "Inline title",
        "Inline body",
        "toxic",
    )


def test_feedback_for_an_unknown_article_is_422_naming_article_id(api: TestClient, store: Store) -> None:
    response = api.post("/v1/feedback", json=feedback_body(article_id="never-stored"))
    assert response.status_code == 422
    assert error_locs(response) == [["body", "article_id"]]
    assert "PUT /v1/articles" in response.json()["detail"][0]["msg"]
    assert "never-stored" not in response.text  # the field is named, its value not repeated
    assert list(store.iter_feedback()) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"label": "rude"}, "label"),
        ({"label": None}, "label"),
        ({"text": "  "}, "text"),
        ({"text": None}, "text"),
        ({"moderator_id": ""}, "moderator_id"),
        ({"moderator_id": "mod\u0000"}, "moderator_id"),
        ({"comment_id": "c" * 257}, "comment_id"),
        ({"comment_id": "c\u00001"}, "comment_id"),
        ({"site_id": "site\n"}, "site_id"),
        ({"comment_id": None}, "comment_id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),  # the server sets the time
        ({"text": "x" * 10_001}, "text"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(api: TestClient, store: Store, overrides: dict, field: str) -> None:
    api.put("/v1/articles/a1", json=ARTICLE)
    response = api.post("/v1/feedback", json=feedback_body(**overrides))
    assert response.status_code == 422
    assert any(field in loc for loc in error_locs(response)), response.json()
    assert list(store.iter_feedback()) == []


def test_unknown_label_message_lists_the_labels(api: TestClient) -> None:
    api.put("/v1/articles/a1", json=ARTICLE)
    response = api.post("/v1/feedback", json=feedback_body(label="rude"))
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "label"]
    assert error["msg"] == "unknown label; the serving model predicts spam, toxic, substantive"
    not_a_label = api.post("/v1/feedback", json=feedback_body(label="Rude!"))
    assert "a label is lower-case letters" in not_a_label.json()["detail"][0]["msg"]


def test_feedback_without_any_article_is_422(api: TestClient) -> None:
    response = api.post("/v1/feedback", json=feedback_body(article_id=None))
    assert response.status_code == 422
    assert "give article_id" in response.json()["detail"][0]["msg"]


# Export and audit


def test_export_is_jsonl_that_training_reads(api: TestClient, tmp_path: Path) -> None:
    api.put("/v1/articles/a1", json=ARTICLE)
    api.post("/v1/feedback", json=feedback_body())
    api.post(
        "/v1/feedback", json=feedback_body(comment_id="c2", text="Sunday closures hurt families", label="substantive")
    )
    response = api.get("/v1/feedback/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["label"], r["source"], r["article_title"]) for r in rows] == [
        ("spam", "feedback", ARTICLE["title"]),
        ("substantive", "feedback", ARTICLE["title"]),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text(response.text, encoding="utf-8")
    data = load_labelled([path])
    assert data.labels() == ["spam", "substantive"]
    assert data.groups() == ["article:a1", "article:a1"]


def test_export_of_no_feedback_is_empty(api: TestClient) -> None:
    response = api.get("/v1/feedback/export")
    assert response.status_code == 200 and response.text == ""


def test_audit_route_lists_one_comment(api: TestClient, store: Store) -> None:
    entry = AuditEntry(
        comment_id="c1",
        model_version="v1",
        scores={"spam": 0.9, "toxic": 0.05, "substantive": 0.05},
        label="spam",
        action="approve",
        decided_action="reject",
        policy_version="default@1",
        shadow=True,
        reasons=["spam 0.90 >= reject threshold 0.85"],
    )
    store.add_audit([entry, AuditEntry(**(vars(entry) | {"comment_id": "c2"}))])
    body = api.get("/v1/audit/c1").json()
    assert body["comment_id"] == "c1"
    (got,) = body["entries"]
    assert (got["action"], got["decided_action"], got["shadow"], got["text"]) == ("approve", "reject", True, None)
    assert got["reasons"] == ["spam 0.90 >= reject threshold 0.85"]
    assert api.get("/v1/audit/unknown").json()["entries"] == []


# Storage failures


def test_no_store_configured_is_503(tiny_loaded: LoadedModel) -> None:
    with TestClient(make_app(None, tiny_loaded)) as client:
        response = client.get("/v1/articles/a1")
    assert response.status_code == 503
    assert "database_url" in response.json()["detail"]


def test_read_only_database_is_503_not_500(tmp_path: Path, store: Store, db_url: str, tiny_loaded: LoadedModel) -> None:
    store.put_article("a1", "T", "B", "")
    path = db_url.removeprefix("sqlite:///")
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    with TestClient(make_app(read_only, tiny_loaded)) as client:
        assert client.get("/v1/articles/a1").status_code == 200
        response = client.post("/v1/feedback", json=feedback_body())
    read_only.close()
    assert response.status_code == 503
    assert "storage unavailable" in response.json()["detail"]
    assert path not in response.text  # file paths stay in the server log


# A real server, killed without warning


def test_feedback_acknowledged_by_a_real_server_survives_kill_9(db_url: str, tiny_model_dir: Path) -> None:
    port = free_port()
    script = (  # the same app as make_app, built without importing this module's training imports
        "import uvicorn\n"
        "from fastapi import FastAPI\n"
        "from serve.auth import KeyRing\n"
        "from storage import Store\n"
        "from serve.routes_data import admin_data_router, data_router\n"
        "from serve.state import ModelHolder\n"
        "from model.artifact import load_model\n"
        "app = FastAPI()\n"
        f"app.state.store = Store({db_url!r})\n"
        f"app.state.holder = ModelHolder({str(tiny_model_dir)!r}, load_model({str(tiny_model_dir)!r}))\n"
        "app.state.keyring = KeyRing(())\n"
        "app.include_router(data_router)\n"
        "app.include_router(admin_data_router)\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.put("/v1/articles/a1", json=ARTICLE).status_code == 201
            ids = [http.post("/v1/feedback", json=feedback_body(comment_id=f"c{i}")).json()["id"] for i in range(20)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    reopened = Store(db_url)
    assert [f.id for f in reopened.iter_feedback()] == ids
    assert reopened.get_article("a1") is not None
    reopened.close()


def _wait_until_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before answering")
        try:
            httpx.get(f"{base}/v1/articles/probe", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not answer within 60 s")


# Into training


def _add_feedback_rows(store: Store) -> None:
    rows = [
        ("f1", "Buy followers cheap at growfast dot biz", "spam"),
        ("f2", "Great article, check my profile for crypto tips", "spam"),
        ("f3", "You are a moron and so is everyone who reads this", "toxic"),
        ("f4", "People like you should be banned from voting, idiot", "toxic"),
        ("f5", "Closing on Sundays hurts working parents most; why not Monday mornings?", "substantive"),
        ("f6", "The 40,000 saving is small next to the branch's evening visitor numbers", "substantive"),
    ]
    for comment_id, text, label in rows:
        store.add_feedback(
            FeedbackIn(comment_id, text, label, "mod-1", "fb-article", ARTICLE["title"], ARTICLE["body"], "site-a")
        )


def test_export_feedback_cli_writes_training_rows(store: Store, db_url: str, tmp_path: Path) -> None:
    _add_feedback_rows(store)
    out = tmp_path / "out" / "feedback.jsonl"
    assert export_module.main(["--database", db_url, "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6
    assert set(rows[0]) == {"id", "text", "label", "article_id", "article_title", "article_body", "source"}
    assert {r["source"] for r in rows} == {"feedback"}
    data = load_labelled([out])
    assert data.label_counts() == {"spam": 2, "toxic": 2, "substantive": 2}
    assert not list(tmp_path.joinpath("out").glob(".*"))  # no temp file left behind


def test_export_from_a_missing_database_file_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.sqlite3"
    code = export_module.main(["--database", f"sqlite:///{missing}", "--out", str(tmp_path / "f.jsonl")])
    assert code == 2
    assert f"database file {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()  # and it was not created empty


@pytest.mark.slow  # `training.fit` with the default recipe: also fits the real public comments (minutes)
def test_fit_with_feedback_trains_on_it(store: Store, db_url: str, tmp_path: Path) -> None:
    _add_feedback_rows(store)
    config = tmp_path / "train.toml"
    config.write_text("calibration_folds = 3\n", encoding="utf-8")
    models = tmp_path / "models"
    args = ["--data", str(TINY), "--out", str(models), "--config", str(config), "--feedback", db_url]
    assert fit.main(args) == 0
    meta = read_metadata(models / "current")
    data = meta["training"]["data"]
    tiny_rows = len(load_labelled([TINY]).rows)
    assert data["rows"] == tiny_rows + 6
    (snapshot,) = (models / "feedback").glob("feedback-*.jsonl")
    assert str(snapshot) in data["sources"]


@pytest.mark.slow  # `training.fit` with the default recipe: also fits the real public comments (minutes)
def test_fit_with_empty_feedback_trains_without_it(store: Store, db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "train.toml"
    config.write_text("calibration_folds = 3\nrefit_full = false\n", encoding="utf-8")
    models = tmp_path / "models"
    assert fit.main(["--data", str(TINY), "--out", str(models), "--config", str(config), "--feedback", db_url]) == 0
    assert read_metadata(models / "current")["training"]["data"]["rows"] == len(load_labelled([TINY]).rows)


@pytest.mark.slow  # `training.fit` with the default recipe: also fits the real public comments (minutes)
def test_fit_feedback_uses_the_service_database_by_default(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_feedback_rows(store)
    monkeypatch.setenv("MODERATION_DATABASE_URL", db_url)
    config = tmp_path / "train.toml"
    config.write_text("calibration_folds = 3\nrefit_full = false\n", encoding="utf-8")
    models = tmp_path / "models"
    assert fit.main(["--data", str(TINY), "--out", str(models), "--config", str(config), "--feedback"]) == 0
    assert read_metadata(models / "current")["training"]["data"]["rows"] == len(load_labelled([TINY]).rows) + 6


def test_training_default_database_is_the_services() -> None:
    assert Settings.model_fields["database_url"].default == export_module.DEFAULT_DATABASE_URL


def test_export_feedback_does_not_import_the_web_app() -> None:
    code = "import sys, training.export_feedback, training.fit; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_relabelled_comment_is_exported_once_with_its_latest_label(api: TestClient, tmp_path: Path) -> None:
    api.put("/v1/articles/a1", json=ARTICLE)
    api.post("/v1/feedback", json=feedback_body(comment_id="c1", label="spam"))
    api.post("/v1/feedback", json=feedback_body(comment_id="c2", label="spam"))
    api.post("/v1/feedback", json=feedback_body(comment_id="c1", label="substantive"))  # changed their mind
    api.post("/v1/feedback", json=feedback_body(comment_id="c1", label="spam", site_id="other-site"))
    rows = [json.loads(line) for line in api.get("/v1/feedback/export").text.splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [
        ("feedback-2", "spam"),
        ("feedback-3", "substantive"),
        ("feedback-4", "spam"),
    ]
