"""The model artifact: a version directory under models/, and the `current` symlink that names the newest.

    models/<version>/                a portable model (model/portable): model.json + arrays.npz + checksums.txt,
                                     data only, loaded with numpy and never unpickled. What training.fit writes.
    models/<version>/encoder/        only for a model trained with a fine-tuned encoder: its weights, pinned by
                                     sha256 in the model's description
    models/current                   symlink to the newest complete version

The pickled format (model.joblib + metadata.json) is what training.fit wrote before the portable one:
load_model reads it after checking its sha256 and library versions, and `python -m model.portable export`
converts it. What both kinds share (ArtifactError, the encoder folder, version names) is in model/modeldir.py.

A version directory is written under a temporary name and renamed into place, and `current` is swapped
with an atomic rename, so an interrupted save never leaves a half-written model where a loader looks.
"""

import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from .checksum import sha256_file
from .labels import check_label_set
from .modeldir import ENCODER_DIR, ArtifactError, bind_encoder, new_version
from .portable import MODEL_JSON, PORTABLE_BLOCKS
from .portable import export as export_portable
from .portable import load as load_portable

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CURRENT = "current"
FORMAT_VERSION = 1
# Pickles are only portable across the libraries they were made with; a mismatch here refuses to load.
PINNED_LIBRARIES = ("scikit-learn", "numpy", "scipy")


@dataclass(frozen=True)
class LoadedModel:
    estimator: Any
    metadata: dict[str, Any]
    path: Path

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "comment-moderation"))


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for lib in (*PINNED_LIBRARIES, "joblib", "transformers", "torch"):
        try:
            versions[lib] = importlib_metadata.version(lib)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def save_model(
    estimator: Any,
    models_dir: Path,
    metadata: dict[str, Any],
    version: str | None = None,
    files: dict[str, Path] | None = None,
    portable: bool = True,
) -> Path:
    """Write `estimator` and its metadata as models_dir/<version>, then point models_dir/current at it.

    portable: write the data-only format (the default); False writes the pickled one, for a model with a block
        that has no portable form (can_be_portable says which).
    files: folders to copy into the version directory, by the relative name they get there (ENCODER_DIR).
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    version = version or new_version()
    final = models_dir / version
    if final.exists():
        raise ArtifactError(f"{final} already exists; choose another version or remove it")
    meta = {
        "name": metadata.get("name", "comment-moderation"),
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **{k: v for k, v in metadata.items() if k not in {"version", "labels"}},
    }
    if portable:
        export_portable(estimator, meta, final, encoder=(files or {}).get(ENCODER_DIR))
    else:
        _save_pickled(estimator, models_dir, final, meta, files or {})
    point_current(models_dir, version)
    return final


def can_be_portable(features: list[str] | tuple[str, ...]) -> bool:
    """Whether a model with these feature blocks can be written in the portable format."""
    return set(features) <= PORTABLE_BLOCKS


def _save_pickled(estimator: Any, models_dir: Path, final: Path, meta: dict[str, Any], files: dict[str, Path]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=models_dir))
    try:
        import joblib  # only the pickled format needs it; a portable model loads without

        joblib.dump(estimator, tmp / MODEL_FILE)
        for name, source in files.items():
            shutil.copytree(source, tmp / name)
        meta = {
            "format_version": FORMAT_VERSION,
            **meta,
            "labels": [str(c) for c in estimator.classes_],
            "sha256": sha256_file(tmp / MODEL_FILE),
        }
        _write_json(tmp / METADATA_FILE, meta)
        _fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def point_current(models_dir: Path, version: str) -> None:
    """Atomically make models_dir/current a relative symlink to `version`."""
    link = Path(models_dir) / CURRENT
    tmp_link = Path(models_dir) / f".{CURRENT}.{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(version, tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(Path(models_dir))


def load_model(path: Path) -> LoadedModel:
    """Load a model directory (or models/ itself, meaning its `current`): a portable folder (model.json) with
    numpy alone, a pickled one after checking it."""
    path = resolve_model_dir(path)
    if not path.is_dir():
        raise ArtifactError(f"model directory {path} does not exist; train one with `python -m training.fit`")
    if (path / MODEL_JSON).is_file():
        predictor = load_portable(path)
        return LoadedModel(estimator=predictor, metadata=predictor.metadata, path=path.resolve())
    return _load_pickled(path)


def resolve_model_dir(path: Path) -> Path:
    """A model directory, or models/ meaning its current version."""
    path = Path(path)
    if (path / CURRENT).exists() and not (path / METADATA_FILE).exists() and not (path / MODEL_JSON).exists():
        return path / CURRENT
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """A model directory's metadata (version, labels, metrics...) in either format, without loading the model."""
    path = resolve_model_dir(path)
    spec_file = path / MODEL_JSON
    if not spec_file.is_file():
        return _read_pickled_metadata(path)
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        return {**spec["metadata"], "labels": list(spec["classes"])}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ArtifactError(f"{spec_file} is not a model description ({e}); the model is corrupt, retrain it") from e


def _load_pickled(path: Path) -> LoadedModel:
    try:
        import joblib
    except ImportError as e:  # a serving install: portable models only
        raise ArtifactError(
            f"{path} is a pickled model, which needs the training libraries (joblib, scikit-learn), not installed "
            "here; install them (pip install 'comment-moderation[train]') or serve a portable export of it "
            f"(python -m model.portable export {path} DIR)"
        ) from e
    meta = _read_pickled_metadata(path)
    model_file = path / MODEL_FILE
    if not model_file.is_file():
        raise ArtifactError(f"{model_file} is missing; the artifact is incomplete, retrain or restore it")
    actual = sha256_file(model_file)
    if actual != meta.get("sha256"):
        raise ArtifactError(
            f"{model_file} has sha256 {actual[:16]}..., but metadata.json records {str(meta.get('sha256'))[:16]}...; "
            "the file is corrupt or was replaced. Refusing to unpickle it: retrain or restore the artifact"
        )
    _check_libraries(meta, path)
    try:
        estimator = joblib.load(model_file)
    except Exception as e:  # a truncated or foreign pickle can raise almost anything
        raise ArtifactError(f"{model_file} could not be unpickled ({type(e).__name__}: {e}); retrain it") from e
    _refuse_outdated(estimator, model_file)
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    if classes != list(meta["labels"]):
        raise ArtifactError(
            f"{model_file} predicts {classes}, but metadata.json names labels {meta['labels']}; "
            "the two files are from different models: retrain or restore the artifact"
        )
    _bind_encoder(estimator, path.resolve())
    return LoadedModel(estimator=estimator, metadata=meta, path=path.resolve())


def _refuse_outdated(estimator: Any, model_file: Path) -> None:
    """A pickle made before the settings it must carry existed is refused, never scored with today's defaults."""
    missing = []
    config = getattr(getattr(estimator, "embedder_", None), "config", None)
    if config is not None:
        missing += [f"the encoder's {f.name}" for f in fields(config) if f.name not in vars(config)]
    for block in getattr(estimator, "blocks_", []):
        if getattr(block, "name", "") == "signals" and "digit_ratio_of" not in vars(block):
            missing.append("the signals block's digit_ratio_of")
    if missing:
        raise ArtifactError(
            f"{model_file} was made by an older release: it lacks {', '.join(missing)}, settings added on "
            "2026-11-29, and would be scored differently from how it was trained. Retrain it with "
            "`python -m training.fit`"
        )


def _bind_encoder(estimator: Any, path: Path) -> None:
    """Point an embedder that names its weights relative to the artifact (ENCODER_DIR) at this directory.

    The blocks that embed share the one embedder object (pickle keeps shared references shared), so
    rebinding it rebinds them all. The weights are still checked against the pinned sha256 on first use.
    """
    embedder = getattr(estimator, "embedder_", None)
    config = getattr(embedder, "config", None)
    if embedder is not None and config is not None:
        embedder.config = bind_encoder(config, path)


def _read_pickled_metadata(path: Path) -> dict[str, Any]:
    meta_file = Path(path) / METADATA_FILE
    if not meta_file.is_file():
        raise ArtifactError(f"{meta_file} is missing; {path} is not a complete model directory")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{meta_file} is not valid JSON ({e}); the artifact is corrupt, retrain it") from e
    missing = [k for k in ("version", "labels", "sha256", "libraries") if k not in meta]
    if missing:
        raise ArtifactError(f"{meta_file} lacks {missing}; it was not written by this project's save_model")
    try:
        check_label_set(meta["labels"], f"{meta_file} `labels`")
    except ValueError as e:
        raise ArtifactError(f"{e}; retrain it with `python -m training.fit`") from None
    return meta


def _check_libraries(meta: dict[str, Any], path: Path) -> None:
    current = library_versions()
    for lib in PINNED_LIBRARIES:
        saved = meta["libraries"].get(lib)
        # Same major.minor is required: sklearn and numpy change pickled internals between minors.
        if saved and lib in current and saved.split(".")[:2] != current[lib].split(".")[:2]:
            raise ArtifactError(
                f"{path} was trained with {lib} {saved} but {current[lib]} is installed; "
                f"retrain with `python -m training.fit` or install {lib}=={saved}"
            )


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
