"""Shared fixtures: a small model trained once per session on the hand-written test file."""

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "tiny.jsonl"
SHARED = ROOT.parent / "shared"
PUBLIC = SHARED / "data" / "public"
SEED = SHARED / "seed" / "seed_article.json"


def require_shared(path: Path) -> Path:
    """Skip (saying why) on a clone without ../shared; CI always has it."""
    if not path.exists():
        pytest.skip(f"{path} not found: these tests read ../shared, which CI provides beside the clone")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.config import TrainConfig
    from training.fit import train

    out = tmp_path_factory.mktemp("models")
    train(TrainConfig(data=[str(TINY)], out=str(out), calibration_folds=3))
    return out / "current"


@pytest.fixture(scope="session")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default recipe trained on data/, exactly as `make run` does, once per test session."""
    from training.config import TrainConfig
    from training.fit import train

    out = tmp_path_factory.mktemp("default-models")
    train(TrainConfig(out=str(out), data=[str(ROOT / "data")]))
    return out / "current"


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir: Path):
    from model.artifact import load_model

    return load_model(tiny_model_dir)


@pytest.fixture()
def client(tiny_model_dir: Path, tiny_loaded):
    from fastapi.testclient import TestClient

    from serve.app import create_app
    from serve.settings import Settings

    app = create_app(Settings(model_dir=tiny_model_dir), tiny_loaded)
    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
