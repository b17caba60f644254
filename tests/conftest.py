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
    # Every block, relevance included (the default recipe leaves it out, but a site may turn it on).
    features = ["word", "char", "signals", "embedding", "relevance", "lexicon"]
    train(TrainConfig(real="", data=[str(TINY)], out=str(out), calibration_folds=3, features=features))
    return out / "current"


@pytest.fixture(scope="session")
def tiny_pickled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model in the pickled format (model.joblib), which training.fit wrote before the portable one
    and still writes for the public recipe: what load_model's pickle path and the converter read."""
    from model.artifact import save_model
    from training.config import TrainConfig
    from training.data import load_labelled
    from training.fit import build_estimator
    from training.public import prepare_semantic

    features = ["word", "char", "signals", "embedding", "relevance", "lexicon"]
    config = TrainConfig(real="", data=[str(TINY)], calibration_folds=3, features=features)
    config, embedder, auxiliary, semantic = prepare_semantic(config, lambda _: None)
    data = load_labelled([TINY])
    estimator = build_estimator(config, embedder, auxiliary).fit(data.comments(), data.labels(), groups=data.groups())
    out = tmp_path_factory.mktemp("pickled-models")
    save_model(estimator, out, {"name": "tiny", "features": features, **semantic}, portable=False)
    return out / "current"


SHIPPED = ROOT / "models" / "default"


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The shipped default model (models/default), the one `make run` serves on a fresh clone.

    tests/test_shipped_model.py checks that `make model` rebuilds it from data/ and the public texts.
    """
    if not (SHIPPED / "model.json").is_file():
        pytest.fail(f"{SHIPPED} holds no model: it ships with the repository; rebuild it with `make model`")
    return SHIPPED


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir: Path):
    from model.artifact import load_model

    return load_model(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_relevance_model(tmp_path_factory: pytest.TempPathFactory):
    """(model dir, LoadedModel) for the tiny data with the article-aware "relevance" block (real MiniLM)."""
    from model.artifact import load_model
    from training.config import TrainConfig
    from training.fit import train

    out = tmp_path_factory.mktemp("relevance-models")
    train(
        TrainConfig(
            real="", data=[str(TINY)], out=str(out), calibration_folds=3, features=["word", "signals", "relevance"]
        )
    )
    return out / "current", load_model(out / "current")


@pytest.fixture()
def client(tiny_model_dir: Path, tiny_loaded, tmp_path: Path):
    from fastapi.testclient import TestClient

    from serve.app import create_app
    from serve.settings import Settings

    # The app opens its database in the lifespan: a fresh SQLite file per test, never var/ in the checkout.
    settings = Settings(model_dir=tiny_model_dir, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    app = create_app(settings, tiny_loaded)
    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
