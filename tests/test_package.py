"""The wheel: what it ships, and a non-editable install that serves from a directory that is not the checkout.

The install here adds the wheel alone (--no-deps --target) on top of this environment's dependencies, so it
checks the package's own files, not its dependency list (a fresh venv with the serving extra checks that).
"""

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, SHIPPED, free_port
from .live import START_TIMEOUT_S

# What the code reads from beside itself at run time, and must therefore be in the wheel.
NEEDED = (
    "policies/default.toml",
    "storage/migrations/env.py",
    "storage/migrations/script.py.mako",
    "storage/migrations/versions/0001_initial.py",
    "training/configs/finetune.toml",
)
SOURCES = ("pyproject.toml", "README.md", "model", "training", "serve", "storage", "policies", "models/default")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the sources, so the build's own folders (build/, *.egg-info) stay out of the checkout.
    models/default is copied too: a loose package pattern once swept it into the wheel."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w", str(out)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("comment_moderation-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    return target


def test_the_wheel_ships_what_the_code_reads_at_run_time(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in NEEDED if n not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert not [n for n in names if n.startswith(("models/", "tests/", "data/", "bench/"))]


def test_the_version_and_the_console_script_come_from_pyproject(wheel: Path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert wheel.name.startswith(f"comment_moderation-{project['version']}-")
    with zipfile.ZipFile(wheel) as z:
        (entry_points,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = z.read(entry_points).decode()
    assert "comment-moderation = serve.cli:main" in text
    assert project["scripts"]["comment-moderation"] == "serve.cli:main"


@pytest.fixture()
def outside(installed: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment where `serve`, `model`... are the installed copies, run from an empty directory."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    yield {**env, "PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1"}


def test_installed_console_script_serves_from_another_directory(installed: Path, outside: dict[str, str], tmp_path):
    script = installed / "bin" / "comment-moderation"
    version = subprocess.run([str(script), "--version"], env=outside, cwd=tmp_path, capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    where = subprocess.run(
        [sys.executable, "-c", "import serve, model.policy as p; print(serve.__file__); print(p.DEFAULT_POLICY_FILE)"],
        env=outside,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(installed)) for path in where), where  # not the checkout's copies
    port = free_port()
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    command = [str(script), "serve", "--port", str(port), "--model-dir", str(SHIPPED), "--database-url", database]
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(command, env=outside, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        answer = _first_answer(proc, url, tmp_path / "server.log")
        assert answer["policy"]["version"] == "default-2"  # policies/default.toml, read from the package
        assert answer["results"][0]["id"] == "c1"
        assert httpx.get(f"{url}/openapi.json", timeout=10).json()["info"]["version"] == version.stdout.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _first_answer(proc: subprocess.Popen, url: str, log: Path) -> dict:
    body = {"comments": [{"id": "c1", "text": "Thanks for the clear explanation of the export rules."}]}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the installed server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            r = httpx.post(f"{url}/v1/predict", json=body, timeout=30)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no answer in {START_TIMEOUT_S:.0f}s:\n{log.read_text()}")
