"""The `attributes/` folder of a model directory: the attribute heads and span model as plain arrays.

attributes/attributes.json   format, attribute and span-output names, feature names, the encoder the heads read
                             (its config, as the model's model.json pins it), metadata (data, split rule,
                             metrics) and attributes.npz's sha256
attributes/attributes.npz    every number and the span model's word list (numeric and unicode arrays, no pickle)
attributes/checksums.txt     sha256 of both, in `sha256sum -c` format

A model directory without `attributes/` is a model without attributes (read_attributes returns None). One with a
damaged folder is refused, naming the file: it must never serve silently without, or with wrong, attributes.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from .attributes import AttributeHeads, Attributes
from .checksum import CHECKSUMS_FILE, read_checksums, sha256_file, verify, write_checksums
from .lexicon import LEXICON_NAMES
from .modeldir import ArtifactError, checked
from .spans import FEATURES, GATE_FEATURES, SpanModel

FOLDER = "attributes"
SPEC_FILE = "attributes.json"
ARRAYS_FILE = "attributes.npz"
FORMAT = "comment-moderation/attributes"
FORMAT_VERSION = 1
RETRAIN = "restore the folder from the release, or write it again with `python -m training.attributes --model-dir DIR`"
# What must agree between the encoder the heads were trained on and the one the model embeds with.
ENCODER_KEYS = ("sha256", "max_length", "truncation", "precision")


def encoder_mismatch(attributes: Attributes, config: Mapping[str, Any]) -> str | None:
    """Why embeddings from an encoder with `config` do not fit these heads; None when they do."""
    for key in ENCODER_KEYS:
        if config.get(key) != attributes.encoder.get(key):
            return f"encoder {key} is {config.get(key)!r}, the heads were trained with {attributes.encoder.get(key)!r}"
    return None


def write_attributes(model_dir: Path, attributes: Attributes) -> Path:
    """Write (or replace) model_dir/attributes atomically: a temporary folder beside it, then a rename."""
    folder = Path(model_dir) / FOLDER
    h, s = attributes.heads, attributes.spans
    h.check()
    s.check()
    arrays = {
        "heads_mean": h.mean,
        "heads_scale": h.scale,
        "heads_coef": h.coef,
        "heads_intercept": h.intercept,
        "heads_platt": h.platt,
        "spans_vocab": s.vocab.astype(str),
        "spans_table": s.table,
        "spans_support": s.support,
        "spans_prior": s.prior,
        "spans_coef": s.coef,
        "spans_intercept": s.intercept,
        "spans_threshold": s.threshold,
        "spans_gate_coef": s.gate_coef,
        "spans_gate_intercept": s.gate_intercept,
        "spans_gate_threshold": s.gate_threshold,
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", dir=model_dir))
    try:
        np.savez_compressed(tmp / ARRAYS_FILE, **cast(dict[str, Any], arrays))
        spec = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "attributes": list(h.names),
            "head_inputs": {"embedding": h.embedding_dim, "lexicon": list(LEXICON_NAMES)},
            "span_outputs": list(s.outputs),
            "span_features": list(FEATURES),
            "gate_features": list(GATE_FEATURES),
            "encoder": attributes.encoder,
            "metadata": attributes.metadata,
            "arrays": {"file": ARRAYS_FILE, "sha256": sha256_file(tmp / ARRAYS_FILE)},
        }
        (tmp / SPEC_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_checksums(tmp, (SPEC_FILE, ARRAYS_FILE))
        os.chmod(tmp, 0o755)
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_attributes(model_dir: Path) -> Attributes | None:
    """The attributes of a model directory after checking every file; None when it has no `attributes/`."""
    folder = Path(model_dir) / FOLDER
    if not folder.exists():
        return None
    recorded = checked(read_checksums, folder, RETRAIN)
    for name in (SPEC_FILE, ARRAYS_FILE):
        checked(verify, folder / name, recorded.get(name), CHECKSUMS_FILE, RETRAIN)
    try:
        spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{folder / SPEC_FILE} is not valid JSON ({e}): {RETRAIN}") from e
    if spec.get("format") != FORMAT or spec.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{folder / SPEC_FILE} is format {spec.get('format')!r} version {spec.get('format_version')!r}; this code "
            f"reads {FORMAT!r} version {FORMAT_VERSION}: {RETRAIN}"
        )
    checked(verify, folder / ARRAYS_FILE, spec.get("arrays", {}).get("sha256"), SPEC_FILE, RETRAIN)
    try:
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
            a = {name: npz[name] for name in npz.files}
        heads = AttributeHeads(
            tuple(spec["attributes"]),
            a["heads_mean"],
            a["heads_scale"],
            a["heads_coef"],
            a["heads_intercept"],
            a["heads_platt"],
        )
        spans = SpanModel(
            a["spans_vocab"],
            a["spans_table"],
            a["spans_support"],
            a["spans_prior"],
            a["spans_coef"],
            a["spans_intercept"],
            a["spans_threshold"],
            a["spans_gate_coef"],
            a["spans_gate_intercept"],
            a["spans_gate_threshold"],
            tuple(spec["span_outputs"]),
        )
        if (
            list(spec["span_features"]) != list(FEATURES)
            or spec["gate_features"] != list(GATE_FEATURES)
            or spec["head_inputs"]["lexicon"] != list(LEXICON_NAMES)
        ):
            raise ValueError("its feature names differ from this code's; it was written by another version")
        heads.check()
        spans.check()
    except (KeyError, ValueError, TypeError) as e:
        raise ArtifactError(f"{folder}: cannot use it ({type(e).__name__}: {e}): {RETRAIN}") from e
    return Attributes(heads, spans, dict(spec.get("encoder") or {}), dict(spec.get("metadata") or {}))
