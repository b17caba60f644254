"""Model lifecycle: GET /v1/model, a reload that swaps the model, and a failed one that keeps the old."""

import shutil

import pytest

from model.artifact import point_current
from model.portable import ARRAYS_FILE
from tests.service_app import service, set_model_version, write_policy


@pytest.fixture()
def models(tmp_path, tiny_model_dir):
    """models/ with one version `v1` (a copy of the tiny model) and `current` pointing at it."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(tiny_model_dir.resolve(), root / "v1")
    set_model_version(root / "v1", "v1")
    point_current(root, "v1")
    return root


def _new_version(root, version):
    shutil.copytree(root / "v1", root / version)
    set_model_version(root / version, version)
    point_current(root, version)


def _predicted_version(client):
    r = client.post("/v1/predict", json={"comments": [{"text": "When is the vote?"}]})
    assert r.status_code == 200, r.text
    return r.json()["model"]["version"]


def test_reload_swaps_the_model(tmp_path, models):
    with service(tmp_path, None, models / "current") as client:
        assert client.get("/v1/model").json()["version"] == "v1"
        _new_version(models, "v2")
        r = client.post("/v1/admin/reload")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "reloaded",
            "model_version": "v2",
            "previous_version": "v1",
            "policy_version": "default-2",
        }
        assert _predicted_version(client) == "v2" and client.get("/v1/model").json()["version"] == "v2"
        assert 'moderation_model_info{name="comment-moderation",version="v2"} 1.0' in client.get("/metrics").text


def test_failed_reload_keeps_the_old_model_and_says_why(tmp_path, models):
    with service(tmp_path, None, models / "current") as client:
        _new_version(models, "v3")
        with open(models / "v3" / ARRAYS_FILE, "ab") as f:
            f.write(b"tampered")
        r = client.post("/v1/admin/reload")
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert "still serving model v1" in detail and ARRAYS_FILE in detail and "sha256" in detail
        assert str(tmp_path) not in detail  # which file, never where it lives
        assert _predicted_version(client) == "v1"
        metrics = client.get("/metrics").text
        assert 'moderation_reloads_total{outcome="failed"} 1.0' in metrics
        assert 'version="v1"} 1.0' in metrics


def test_failed_reload_of_a_bad_policy_keeps_both(tmp_path, models):
    policy = write_policy(tmp_path, 'version = "p1"\n[thresholds.toxic]\nhold = 0.5\nreject = 0.9\n')
    with service(tmp_path, None, models / "current", policy_file=policy) as client:
        policy.write_text('version = "p2"\n[thresholds.toxic]\nhold = 0.95\nreject = 0.9\n')
        _new_version(models, "v2")
        r = client.post("/v1/admin/reload")
        assert r.status_code == 409 and "hold (0.95) is above reject" in r.json()["detail"]
        assert str(tmp_path) not in r.json()["detail"]
        out = client.post("/v1/predict", json={"comments": [{"text": "When is the vote?"}]}).json()
        assert out["model"]["version"] == "v1" and out["policy"]["version"] == "p1"


def test_without_paths():
    from serve.routes_admin import without_paths

    msg = "/srv/models/v3/model.joblib has sha256 ab..., model directory /srv/models does not exist"
    assert without_paths(msg) == "model.joblib has sha256 ab..., model directory models does not exist"


def test_reload_under_load_drops_no_request(tmp_path, models):
    """A real server answering a stream of predictions while the model is swapped under it."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.service_app import real_server

    body = {"comments": [{"text": f"When is the vote on item {i}?"} for i in range(16)]}
    with real_server(tmp_path, models / "current") as url, httpx.Client(base_url=url, timeout=120) as http:

        def one(_: int) -> tuple[int, str]:
            r = http.post("/v1/predict", json=body)
            return r.status_code, r.json()["model"]["version"] if r.status_code == 200 else r.text

        with ThreadPoolExecutor(4) as pool:
            before = [pool.submit(one, i) for i in range(12)]
            _new_version(models, "v2")
            reload = pool.submit(lambda: http.post("/v1/admin/reload"))
            after = [pool.submit(one, i) for i in range(12)]
            answers = [f.result() for f in before + after]
            assert reload.result().status_code == 200
        assert all(status == 200 for status, _ in answers), answers
        assert {version for _, version in answers} <= {"v1", "v2"}
        assert one(0) == (200, "v2")


def test_the_loaded_model_is_frozen_out_of_the_cycle_collector(tmp_path, models):
    """serve.warm.settle_heap: at start and after a reload, the long-lived objects are gc-frozen, so a full
    collection under load does not walk the model (76-103 ms with the GIL held, measured)."""
    import gc

    gc.unfreeze()  # whatever earlier tests froze
    try:
        with service(tmp_path, None, models / "current") as client:
            frozen = gc.get_freeze_count()
            assert frozen > 10_000, frozen  # the model's vocabularies and word lists, at least
            _new_version(models, "v2")
            assert client.post("/v1/admin/reload").status_code == 200
            # Unfrozen, collected and frozen again: the new model is in, and nothing piled up twice.
            assert 10_000 < gc.get_freeze_count() < 3 * frozen
            assert _predicted_version(client) == "v2"
    finally:
        gc.unfreeze()
