"""Building the service for a test: the tiny model, a real SQLite file under tmp_path, and a policy file."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

# Thresholds no calibrated score reaches (approve all), or every score reaches (decide on every comment).
APPROVE_ALL = """
version = "test-approve"
[thresholds.spam]
hold = 1.0
reject = 1.0
[thresholds.toxic]
hold = 1.0
reject = 1.0
"""


def write_policy(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def service(tmp_path: Path, loaded: Any, model_dir: Path, **settings: Any) -> Iterator[TestClient]:
    """The app over `db.sqlite3` in tmp_path (the same file on every call: a second call is a restart)."""
    from serve.app import create_app
    from serve.settings import Settings

    settings.setdefault("database_url", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    app = create_app(Settings(model_dir=model_dir, **settings), loaded)
    with TestClient(app) as client:
        yield client


@contextmanager
def real_server(tmp_path: Path, model_dir: Path, **env: str) -> Iterator[str]:
    """`python -m serve` under uvicorn on a free loopback port, with MODERATION_* settings from `env`."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT, free_port
    from tests.test_server import wait_ready

    port = free_port()
    settings = {"MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        yield url
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
        print(out)  # shown by pytest when the test fails: the server's own account of what went wrong


def set_model_version(path: Path, version: str) -> None:
    """Give the portable model in `path` another version name, re-signing model.json as a retrain would (the
    version lives in model.json, which checksums.txt vouches for)."""
    import json

    from model.checksum import sha256_file
    from model.portable import ARRAYS_FILE, CHECKSUMS_FILE, MODEL_JSON

    spec = json.loads((path / MODEL_JSON).read_text())
    spec["metadata"]["version"] = version
    (path / MODEL_JSON).write_text(json.dumps(spec))
    lines = [f"{sha256_file(path / n)}  {n}\n" for n in (MODEL_JSON, ARRAYS_FILE)]
    (path / CHECKSUMS_FILE).write_text("".join(lines))
