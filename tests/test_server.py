"""End to end: `python -m serve` under a real uvicorn on a loopback port, called over HTTP."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, free_port


def start_server(model_dir: Path, port: int, database: Path) -> subprocess.Popen:
    # Each server gets its own database file: a test must never write into the checkout.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODERATION_DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model-dir",
            str(model_dir),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(proc: subprocess.Popen, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.fixture()
def server(tiny_model_dir: Path, tmp_path: Path):
    port = free_port()
    proc = start_server(tiny_model_dir, port, tmp_path / "moderation.sqlite3")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_real_server_predicts(server: str):
    r = httpx.post(f"{server}/v1/predict", json={"comments": [{"id": "a", "text": "Call +1 (888) 555-0143 now!!"}]})
    assert r.status_code == 200
    [result] = r.json()["results"]
    assert result["id"] == "a" and set(result["scores"]) == {"spam", "toxic", "substantive"}
    r = httpx.post(f"{server}/v1/predict", content=b"nope", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_refuses_to_start_without_a_model(tmp_path: Path):
    proc = start_server(tmp_path / "missing", free_port(), tmp_path / "moderation.sqlite3")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "cannot start" in out and "does not exist" in out
