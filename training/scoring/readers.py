"""Stream the rows of one partition: (row number, parsed row or BadRow), never the whole file in memory."""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow.parquet as pq

from .sources import COLUMNS, ByteLines, Partition

# Parquet is read in record batches of this many rows: memory per batch, not per row group.
PARQUET_BATCH = 4096


@dataclass(frozen=True)
class BadRow:
    """A row that could not even be parsed; it goes to the rejected part with this reason."""

    reason: str
    raw: str


Row = tuple[int, "dict[str, Any] | BadRow"]


def read_partition(part: Partition) -> Iterator[Row]:
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}
    yield from readers[part.source.fmt](part)


def _read_jsonl(part: Partition) -> Iterator[Row]:
    with fsspec.open(part.source.url, "rb") as f:
        f.seek(part.start)
        pos, number, started = part.start, part.first_row, False
        while pos < part.end:
            line = f.readline()
            if not line:
                break
            pos += len(line)
            if line.strip():
                yield number, _parse_json_line(line)
                started, number = True, number + 1
            elif started:  # blank lines before the first row were counted by the previous partition
                number += 1


def _parse_json_line(line: bytes) -> "dict[str, Any] | BadRow":
    try:
        value = json.loads(line)
    except UnicodeDecodeError as e:
        return BadRow(f"not UTF-8 text (byte {e.start}); re-save the file as UTF-8", line[:500].decode("latin-1"))
    except json.JSONDecodeError as e:
        return BadRow(f"invalid JSON ({e.msg} at column {e.colno})", line[:500].decode("utf-8", errors="replace"))
    return value


def _read_csv(part: Partition) -> Iterator[Row]:
    header = part.header
    with fsspec.open(part.source.url, "rb") as f:
        f.seek(part.start)
        for number, values in enumerate(csv.reader(ByteLines(f, limit=part.end - part.start)), part.first_row):
            if len(values) != len(header):
                yield number, BadRow(f"row has {len(values)} fields, the header has {len(header)}", repr(values)[:500])
                continue
            # An empty CSV cell means "no value"; the model and the id fallback treat it that way.
            yield number, {k: (v if v != "" else None) for k, v in zip(header, values, strict=True) if k in COLUMNS}


def _read_parquet(part: Partition) -> Iterator[Row]:
    with fsspec.open(part.source.url, "rb") as f:
        pf = pq.ParquetFile(f)
        columns = [c for c in COLUMNS if c in pf.schema_arrow.names]
        groups: list[int] = []
        offset, position = 0, 0
        for i in range(pf.metadata.num_row_groups):
            size = pf.metadata.row_group(i).num_rows
            if offset + size > part.start and offset < part.end:
                position = position if groups else offset  # row offset of the first group we read
                groups.append(i)
            offset += size
        if not groups:
            return
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH, row_groups=groups, columns=columns):
            lo, hi = max(part.start - position, 0), min(part.end - position, batch.num_rows)
            if lo < hi:
                for i, row in enumerate(batch.slice(lo, hi - lo).to_pylist()):
                    yield position + lo + i + 1, row
            position += batch.num_rows
