"""sha256 of a file: how the artifact, the portable format and the encoder's weights and exports vouch for
their files. On its own so that each of them can use it without importing the others."""

import hashlib
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


CHECKSUMS_FILE = "checksums.txt"


class ChecksumError(ValueError):
    """A file missing or not matching its recorded sha256; the message names the file and ends with the fix."""


def write_checksums(folder: Path, names: tuple[str, ...]) -> str:
    """`folder/checksums.txt` (sha256sum -c format) for `names`; returns its text."""
    text = "".join(f"{sha256_file(folder / name)}  {name}\n" for name in names)
    with open(folder / CHECKSUMS_FILE, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return text


def read_checksums(folder: Path, fix: str) -> dict[str, str]:
    """File name -> sha256 recorded in folder/checksums.txt."""
    path = folder / CHECKSUMS_FILE
    if not path.is_file():
        raise ChecksumError(f"{path} is missing; {folder} is incomplete: {fix}")
    recorded = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            recorded[name] = digest
    return recorded


def verify(path: Path, expected: str | None, where: str, fix: str) -> None:
    """Refuse a missing file, or one whose sha256 is not what `where` records."""
    if not path.is_file():
        raise ChecksumError(f"{path} is missing; the folder is incomplete: {fix}")
    found = sha256_file(path)
    if found != expected:
        raise ChecksumError(
            f"{path} has sha256 {found[:16]}..., but {where} records {str(expected)[:16]}...; the file is corrupt "
            f"or was edited. Refusing to load it: {fix}"
        )
