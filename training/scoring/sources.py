"""Find the input files behind --data and cut each into partitions of a fixed number of rows.

A partition is the unit of work and of output: one Parquet part per partition, named after the file and
the partition index, so a rerun with the same files and --part-rows finds the same parts. Planning reads
each file once, in constant memory: JSONL and CSV are scanned for the byte offsets where partitions start
(a worker then seeks there instead of re-reading the file), Parquet only needs its footer.
"""

import csv
import glob
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
COLUMNS = ("id", "text", "article_id", "article_title", "article_body", "site_id")


class ScoreError(ValueError):
    """An input or output that cannot be used as given; the message names the file and the fix."""


@dataclass(frozen=True)
class Source:
    url: str  # with protocol, what a worker on another machine opens
    path: str  # as the filesystem names it; recorded in every output row as source_file
    fmt: str


@dataclass(frozen=True)
class Partition:
    source: Source
    index: int  # position within its file
    rows: int  # input rows (JSONL: non-blank lines) in the partition
    start: int  # byte offset (JSONL, CSV) or row offset (Parquet) of the first row
    end: int  # byte offset or row offset just past the last row
    first_row: int  # 1-based row number of the first row (JSONL: its line number)
    header: tuple[str, ...] = ()  # CSV column names, read once at planning

    @property
    def name(self) -> str:
        """The part file name: readable stem, a hash of the full path against same-named files, the index."""
        digest = hashlib.sha1(self.source.path.encode("utf-8")).hexdigest()[:8]
        stem = PurePosixPath(self.source.path).stem
        return f"{stem}-{digest}-{self.index:05d}.parquet"


def find_sources(patterns: list[str]) -> list[Source]:
    """Expand files, directories and globs (any fsspec URL) into a sorted, de-duplicated list of inputs."""
    found: dict[str, Source] = {}
    for pattern in patterns:
        fs, path = url_to_fs(pattern)
        if glob.has_magic(path):
            matches = sorted(fs.glob(path))
        elif fs.isdir(path):
            matches = sorted(p for p in fs.find(path) if _suffix(p) in FORMATS)
        elif fs.exists(path):
            matches = [path]
        else:
            raise ScoreError(
                f"--data {pattern}: no such file or directory; pass a CSV, JSONL or Parquet file or a glob"
            )
        if not matches:
            raise ScoreError(
                f"--data {pattern}: matched no files; check the glob (quote it so the shell leaves it alone)"
            )
        for match in matches:
            fmt = FORMATS.get(_suffix(match))
            if fmt is None:
                raise ScoreError(
                    f"{match}: unsupported file type {_suffix(match)!r}; expected one of {sorted(FORMATS)}"
                )
            found.setdefault(match, Source(url=fs.unstrip_protocol(match), path=match, fmt=fmt))
    return sorted(found.values(), key=lambda s: s.path)


def plan(sources: list[Source], part_rows: int) -> list[Partition]:
    if part_rows < 1:
        raise ScoreError(f"--part-rows must be at least 1, found {part_rows}")
    planners = {"jsonl": _plan_jsonl, "csv": _plan_csv, "parquet": _plan_parquet}
    return [part for source in sources for part in planners[source.fmt](source, part_rows)]


def _suffix(path: str) -> str:
    return PurePosixPath(path).suffix.lower()


def _cut(
    source: Source, part_rows: int, boundaries: Iterator[tuple[int, int]], first: int = 0, **kw
) -> list[Partition]:
    """Group (row number, offset just past the row) pairs into partitions of part_rows rows."""
    parts: list[Partition] = []
    start, first_row, rows = first, 0, 0
    for row, after in boundaries:
        if rows == 0:
            first_row = row
        rows += 1
        if rows == part_rows:
            parts.append(Partition(source, len(parts), rows, start, after, first_row, **kw))
            start, rows = after, 0
    if rows:
        parts.append(Partition(source, len(parts), rows, start, after, first_row, **kw))
    return parts


def _plan_jsonl(source: Source, part_rows: int) -> list[Partition]:
    def rows() -> Iterator[tuple[int, int]]:
        pos = 0
        with fsspec.open(source.url, "rb") as f:
            for number, line in enumerate(f, 1):
                pos += len(line)
                if line.strip():  # blank lines are not rows, as in training data
                    yield number, pos

    return _cut(source, part_rows, rows())


def _plan_csv(source: Source, part_rows: int) -> list[Partition]:
    with fsspec.open(source.url, "rb") as f:
        tracker = ByteLines(f)
        reader = csv.reader(tracker)
        header = tuple(next(reader, ()))
        if "text" not in header:
            raise ScoreError(f"{source.path}: the header has no 'text' column (found {list(header)}); add one")
        first = tracker.pos
        # csv.reader pulls one line at a time and returns as soon as a record is complete (quoted newlines
        # included), so tracker.pos after each record is exactly where the next one starts.
        boundaries = ((number, tracker.pos) for number, _ in enumerate(reader, 1))
        return _cut(source, part_rows, boundaries, first=first, header=header)


def _plan_parquet(source: Source, part_rows: int) -> list[Partition]:
    with fsspec.open(source.url, "rb") as f:
        meta = pq.ParquetFile(f).metadata
        names = meta.schema.names
    if "text" not in names:
        raise ScoreError(f"{source.path}: no 'text' column (found {names}); add one")
    boundaries = ((row, row) for row in range(1, meta.num_rows + 1))
    return _cut(source, part_rows, boundaries)


class ByteLines:
    """Iterate a binary file as decoded lines while counting the bytes consumed."""

    def __init__(self, f, limit: int | None = None) -> None:
        self.f, self.pos, self.limit = f, 0, limit

    def __iter__(self) -> Iterator[str]:
        for line in self.f:
            self.pos += len(line)
            # A stray non-UTF-8 byte becomes U+FFFD instead of failing the whole partition.
            yield line.decode("utf-8", errors="replace")
            if self.limit is not None and self.pos >= self.limit:
                return
