"""Faults injected into real processes: kill -9 of training and of the server mid-write, broken artifacts at
start, a full disk and a read-only file system under the database.

tests/test_artifact.py checks each broken artifact against load_model and tests/test_storage.py checks the
Store alone; here the same faults hit `python -m training.fit` and `python -m serve` as an operator runs them.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from model.artifact import CURRENT, METADATA_FILE, MODEL_FILE, load_model, point_current
from model.checksum import sha256_file
from model.portable import ARRAYS_FILE, CHECKSUMS_FILE, MODEL_JSON

from .conftest import ROOT, TINY
from .live import spawn, start, wait_ready

# Slow: a default-recipe `training.fit` run (minutes), one server per broken artifact, kill -9 and tmpfs mounts.
pytestmark = pytest.mark.slow

# Training


def copy_model(src: Path, models: Path, version: str) -> Path:
    models.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src.resolve(), models / version)
    return models / version


def test_kill_9_during_training_keeps_the_previous_model(tiny_model_dir: Path, tmp_path: Path):
    # Killed once the first fit is done and the refit for the shipped model is running: the last step
    # before save_model, so the most work is lost and a careless writer would have touched models/ already.
    kill_after = "refitting on all comments"
    models = tmp_path / "models"
    copy_model(tiny_model_dir, models, "v-previous")
    point_current(models, "v-previous")
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.fit", "--data", str(TINY), "--out", str(models)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the log line says fitting has started; kill right then
        seen.append(line)
        if kill_after in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"training ended before the kill point:\n{''.join(seen)}"
    assert os.readlink(models / CURRENT) == "v-previous"
    assert load_model(models / CURRENT).version == load_model(tiny_model_dir).version
    # Only the previous version is visible; an interrupted save leaves at most a hidden temporary directory.
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [CURRENT, "v-previous"]


# Broken artifacts: the server refuses to start and says what is wrong


def _flip_bytes(d: Path) -> None:
    with open(d / MODEL_FILE, "r+b") as f:
        f.seek(200)
        f.write(b"\x00tampered\x00")


def _truncate_and_rehash(d: Path) -> None:
    # The sha256 in metadata.json is updated too, so the check passes and unpickling itself must fail cleanly.
    data = (d / MODEL_FILE).read_bytes()
    (d / MODEL_FILE).write_bytes(data[: len(data) // 3])
    _edit_metadata(d, lambda m: m.update(sha256=sha256_file(d / MODEL_FILE)))


def _edit_metadata(d: Path, change: Callable[[dict], object]) -> None:
    meta = json.loads((d / METADATA_FILE).read_text())
    change(meta)
    (d / METADATA_FILE).write_text(json.dumps(meta))


def _flip_arrays(d: Path) -> None:
    with open(d / ARRAYS_FILE, "r+b") as f:
        f.seek(200)
        f.write(b"\x00tampered\x00")


def _edit_model_json(d: Path) -> None:
    spec = json.loads((d / MODEL_JSON).read_text())
    spec["linear"]["temperature"] = 0.5
    (d / MODEL_JSON).write_text(json.dumps(spec))


# What training.fit writes (the portable format), broken.
BROKEN_PORTABLE: dict[str, tuple[Callable[[Path], object], str]] = {
    "corrupt arrays.npz": (_flip_arrays, r"arrays\.npz has sha256 .*, but model\.json records"),
    "edited model.json": (_edit_model_json, r"model\.json has sha256 .*, but checksums\.txt records"),
    "missing checksums.txt": (lambda d: (d / CHECKSUMS_FILE).unlink(), r"checksums\.txt is missing"),
}
# A model in the pickled format training.fit wrote before (and still writes for the public recipe), broken.
BROKEN: dict[str, tuple[Callable[[Path], object], str]] = {
    "corrupt model.joblib": (_flip_bytes, "has sha256 .* but metadata.json records .*Refusing to unpickle"),
    "truncated model.joblib": (_truncate_and_rehash, "model.joblib could not be unpickled"),
    "missing model.joblib": (lambda d: (d / MODEL_FILE).unlink(), "model.joblib is missing"),
    "missing metadata.json": (lambda d: (d / METADATA_FILE).unlink(), "metadata.json is missing"),
    "metadata.json not JSON": (lambda d: (d / METADATA_FILE).write_text('{"version": '), "is not valid JSON"),
    "sha256 mismatch in metadata": (
        lambda d: _edit_metadata(d, lambda m: m.update(sha256="0" * 64)),
        "has sha256 .* but metadata.json records 0000000000000000",
    ),
    "old scikit-learn": (
        lambda d: _edit_metadata(d, lambda m: m["libraries"].update({"scikit-learn": "0.24.2"})),
        "trained with scikit-learn 0.24.2 but .* is installed; retrain",
    ),
}


@pytest.fixture(scope="module")
def refused(
    tiny_model_dir: Path, tiny_pickled_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, str]]:
    """Start one server per broken artifact, all at once (each start imports torch: seconds apiece)."""
    procs = {}
    for name, (breaks, _) in {**BROKEN_PORTABLE, **BROKEN}.items():
        work = tmp_path_factory.mktemp("broken")
        source = tiny_model_dir if name in BROKEN_PORTABLE else tiny_pickled_dir
        broken = copy_model(source, work / "models", "v1")
        breaks(broken)
        procs[name] = spawn(broken, work)
    out = {}
    for name, live in procs.items():
        try:
            live.proc.wait(timeout=180)
        finally:
            live.stop()
        out[name] = (live.proc.returncode, live.log())
    return out


@pytest.mark.parametrize("fault", [*BROKEN_PORTABLE, *BROKEN])
def test_server_refuses_a_broken_artifact_naming_the_problem(refused: dict, fault: str):
    import re

    returncode, log = refused[fault]
    assert returncode == 1, log
    assert "error: cannot start, the model is not usable" in log
    assert re.search({**BROKEN_PORTABLE, **BROKEN}[fault][1], log), log
    assert "Uvicorn running" not in log and "Traceback" not in log


# The server killed mid-write


def _writer(url: str, prefix: str, stop: threading.Event, acked: list, kind: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        n = 0
        while not stop.is_set():
            cid = f"{prefix}-{n}"
            n += 1
            try:
                if kind == "feedback":
                    body = {
                        "comment_id": cid,
                        "text": f"feedback for {cid} " * 20,
                        "label": "toxic",
                        "moderator_id": "mod-1",
                        "article": {"title": f"article for {cid}", "body": "body"},
                    }
                    r = client.post("/v1/feedback", json=body)
                    if r.status_code == 201:
                        acked.append((r.json()["id"], cid))
                else:
                    r = client.post("/v1/predict", json={"comments": [{"id": cid, "text": f"is {cid} on time?"}]})
                    if r.status_code == 200:
                        acked.append(cid)
            except httpx.TransportError:
                return  # the server is gone


def test_kill_9_server_mid_writes_loses_no_acknowledged_write(tiny_model_dir: Path, tmp_path: Path):
    live = start(tiny_model_dir, tmp_path)
    # One request first: the first prediction loads the embedding model (seconds), see the report on issue 7.
    assert predict_ok(live.url)
    stop = threading.Event()
    feedback: list[tuple[int, str]] = []
    audited: list[str] = []
    threads = [
        threading.Thread(target=_writer, args=(live.url, f"w{i}", stop, feedback, "feedback")) for i in range(4)
    ] + [threading.Thread(target=_writer, args=(live.url, f"p{i}", stop, audited, "predict")) for i in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while (len(feedback) < 150 or len(audited) < 30) and time.monotonic() < deadline:
            time.sleep(0.05)
        live.kill9()  # while every writer has a request in flight
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        live.stop()
    assert len(feedback) >= 150 and len(audited) >= 30, (len(feedback), len(audited), live.log()[-3000:])

    restarted = start(tiny_model_dir, tmp_path)
    try:
        export = httpx.get(f"{restarted.url}/v1/feedback/export", timeout=60)
        assert export.status_code == 200, export.text
        rows = {row["id"]: row for row in map(json.loads, export.text.splitlines())}
        for fid, cid in feedback:
            row = rows.get(f"feedback-{fid}")
            assert row is not None, f"acknowledged feedback {fid} ({cid}) is lost"
        for row in rows.values():  # nothing half-written, acknowledged or not
            cid = row["article_title"].removeprefix("article for ")
            assert row["text"] == f"feedback for {cid} " * 20 and row["label"] == "toxic", row
        for cid in audited:
            entries = httpx.get(f"{restarted.url}/v1/audit/{cid}", timeout=30).json()["entries"]
            assert len(entries) == 1 and set(entries[0]["scores"]) == {"spam", "toxic", "substantive"}, cid
        check = subprocess.run(
            [sys.executable, "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
             "'PRAGMA integrity_check').fetchone()[0])", str(tmp_path / "moderation.sqlite3")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert check.stdout.strip() == "ok"
    finally:
        restarted.stop()


# Storage faults under a running server (real file systems: needs root to mount a tmpfs)


@pytest.fixture()
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def feedback_status(url: str, cid: str) -> int:
    body = {
        "comment_id": cid,
        "text": "x " * 4_000,
        "label": "spam",
        "moderator_id": "m",
        "article": {"title": "t", "body": "b"},
    }
    return httpx.post(f"{url}/v1/feedback", json=body, timeout=30).status_code


def predict_ok(url: str) -> bool:
    r = httpx.post(f"{url}/v1/predict", json={"comments": [{"text": "still scoring?"}]}, timeout=30)
    return r.status_code == 200 and len(r.json()["results"]) == 1


def test_disk_full_keeps_predicting_reports_and_recovers(tiny_model_dir: Path, tmp_path: Path, small_fs: Path):
    live = start(tiny_model_dir, tmp_path, env={"MODERATION_DATABASE_URL": f"sqlite:///{small_fs / 'db.sqlite3'}"})
    try:
        assert feedback_status(live.url, "before") == 201
        filler = small_fs / "filler"
        with open(filler, "wb") as f:  # fill the file system to the last block
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        statuses = [feedback_status(live.url, f"full-{i}") for i in range(20)]
        assert 503 in statuses and 500 not in statuses, statuses
        assert predict_ok(live.url)
        ready = httpx.get(f"{live.url}/readyz").json()
        assert ready["status"] == "degraded" and "predictions are served" in ready["reason"], ready
        assert "storage" in live.log() and "disk" in live.log().lower()

        filler.unlink()  # the fault clears: writes resume without a restart
        assert feedback_status(live.url, "after") == 201
        assert predict_ok(live.url)
    finally:
        live.stop()


def test_read_only_file_system_keeps_predicting_and_recovers(tiny_model_dir: Path, tmp_path: Path, small_fs: Path):
    """The database's file system is read-only when the service starts, and becomes writable while it runs.

    Read-only is set before the start because Linux refuses to remount a file system read-only while
    SQLite holds files open for writing (EBUSY); the disk-full test above breaks writes mid-run instead.
    """
    env = {"MODERATION_DATABASE_URL": f"sqlite:///{small_fs / 'db.sqlite3'}"}
    from storage import Store

    store = Store(env["MODERATION_DATABASE_URL"])  # create and migrate the database, as a first start would
    store.ping()
    store.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    live = spawn(tiny_model_dir, tmp_path, env=env)
    try:
        wait_ready(live)
        assert predict_ok(live.url)
        assert feedback_status(live.url, "ro") == 503
        ready = httpx.get(f"{live.url}/readyz").json()
        assert ready["status"] == "degraded" and "predictions are served" in ready["reason"], ready
        assert "db.sqlite3" in live.log()  # the operator's log names the database

        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
        deadline = time.monotonic() + 20
        while feedback_status(live.url, "after") != 201:
            assert time.monotonic() < deadline, "writes did not resume after the file system became writable"
            time.sleep(0.5)
        assert predict_ok(live.url)
    finally:
        live.stop()
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=False)
