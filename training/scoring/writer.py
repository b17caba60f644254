"""The output directory (any fsspec URL): scored/ and rejected/ Parquet parts plus _manifest.json.

    OUT/_manifest.json            model, policy and partitioning of the run; a rerun must match it
    OUT/scored/<part>.parquet     one per input partition, written last: its presence means "done"
    OUT/rejected/<part>.parquet   the same partition's bad rows with a reason (often empty)
    OUT/_summary.json             counts of the whole output, rewritten at the end of every run

Parts are written under a hidden temporary name and renamed into place, so a killed run leaves either a
complete part or none; Parquet readers (pyarrow.dataset, pandas, dask) skip the hidden names.
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from model.labels import LABELS

from .sources import ScoreError

SCORED, REJECTED = "scored", "rejected"
MANIFEST, SUMMARY = "_manifest.json", "_summary.json"
TEMP_SUFFIX = ".tmp"

_HEAD = [("id", pa.string()), ("label", pa.string())]
_TAIL = [
    ("action", pa.string()),
    ("model_version", pa.string()),
    ("policy_version", pa.string()),
    ("source_file", pa.string()),
    ("source_row", pa.int64()),
]


def scored_schema(labels: Sequence[str] = LABELS) -> pa.Schema:
    """id, label, one score column per label of the model (in its order), action, versions and source."""
    clash = sorted(set(labels) & {name for name, _ in _HEAD + _TAIL})
    if clash:
        raise ScoreError(
            f"the model's labels {clash} are also column names of the scored output; retrain with other label names"
        )
    return pa.schema([*_HEAD, *[(label, pa.float64()) for label in labels], *_TAIL])


REJECTED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
    ]
)


class Output:
    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = url_to_fs(url)

    def path(self, kind: str, name: str) -> str:
        return f"{self.root}/{kind}/{name}"

    def is_complete(self, name: str) -> bool:
        return self.fs.exists(self.path(SCORED, name))

    def prepare(self, manifest: dict[str, Any]) -> None:
        """Create the layout, or check that an existing run used the same model, policy and partitions."""
        for kind in (SCORED, REJECTED):
            self.fs.makedirs(f"{self.root}/{kind}", exist_ok=True)
            # Leftovers of a killed run: never renamed, so never part of the output.
            for stale in self.fs.glob(f"{self.root}/{kind}/.*{TEMP_SUFFIX}"):
                self.fs.rm(stale)
        path = f"{self.root}/{MANIFEST}"
        if self.fs.exists(path):
            with self.fs.open(path, "r", encoding="utf-8") as f:
                previous = json.load(f)
            diffs = [k for k in manifest if previous.get(k) != manifest[k]]
            if diffs:
                raise ScoreError(
                    f"{self.url} holds parts of another run (different {', '.join(diffs)}: was "
                    f"{ {k: previous.get(k) for k in diffs} }); mixing them would score rows twice or with two "
                    "models. Use a new --out, or rerun with the same model, policy, --part-rows and inputs"
                )
            return
        self.write_json(MANIFEST, manifest)

    def write_json(self, name: str, obj: Any) -> None:
        with self.fs.open(f"{self.root}/{name}", "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)

    def read_columns(self, kind: str, name: str, columns: list[str]) -> pa.Table:
        with self.fs.open(self.path(kind, name), "rb") as f:
            return pq.read_table(f, columns=columns)

    @contextmanager
    def part(self, name: str, labels: Sequence[str] = LABELS) -> Iterator["PartWriter"]:
        writer = PartWriter(self, name, labels)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        writer.commit()


class PartWriter:
    """Both parts of one partition, streamed batch by batch to temporary files and renamed on commit."""

    def __init__(self, out: Output, name: str, labels: Sequence[str] = LABELS) -> None:
        self.out, self.name = out, name
        self.schema = scored_schema(labels)
        token = uuid.uuid4().hex[:8]
        self.temps = {kind: out.path(kind, f".{name}.{token}{TEMP_SUFFIX}") for kind in (SCORED, REJECTED)}
        self.files = {kind: out.fs.open(path, "wb") for kind, path in self.temps.items()}
        self.writers = {
            SCORED: pq.ParquetWriter(self.files[SCORED], self.schema),
            REJECTED: pq.ParquetWriter(self.files[REJECTED], REJECTED_SCHEMA),
        }

    def write(self, kind: str, columns: dict[str, list[Any]]) -> None:
        schema = self.schema if kind == SCORED else REJECTED_SCHEMA
        self.writers[kind].write_batch(pa.record_batch(columns, schema=schema))

    def commit(self) -> None:
        self._close()
        # rejected first: a present scored part is the promise that its rejected part is there too.
        for kind in (REJECTED, SCORED):
            self.out.fs.mv(self.temps[kind], self.out.path(kind, self.name))

    def abort(self) -> None:
        try:
            self._close()
        finally:
            for path in self.temps.values():
                if self.out.fs.exists(path):
                    self.out.fs.rm(path)

    def _close(self) -> None:
        for kind in (SCORED, REJECTED):
            self.writers[kind].close()
            self.files[kind].close()
