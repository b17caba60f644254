"""sha256 of a file: how the artifact, the portable format and the encoder's weights and exports vouch for
their files. On its own so that each of them can use it without importing the others."""

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
