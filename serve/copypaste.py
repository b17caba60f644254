"""Copy-paste detection: 64-bit SimHash of each comment, and a bounded index of recent ones per site.

Bots paste the same praise under many articles, usually with a word changed. SimHash maps texts that share
most of their words to fingerprints a few bits apart, so "near-repeat" is a Hamming distance <= k between
two integers: a vectorised XOR and popcount over the site's ring buffer (50,000 fingerprints: ~0.2 ms).

The index lives in memory and is written through to the Store, and a site's ring is reloaded from the Store
the first time the site is seen after a restart, so the memory of earlier pastes survives one.
"""

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.normalize import normalize

log = logging.getLogger("serve.copypaste")

_WORD = re.compile(r"\w+")
_MASK64 = (1 << 64) - 1
DEFAULT_SITE = "_default"
# Texts of fewer words than this are not fingerprinted: "Thanks!" under two articles is not a bot.
MIN_WORDS = 4


def simhash(text: str) -> int | None:
    """The 64-bit SimHash of `text` (unsigned), or None when the text is too short to say anything."""
    return simhash_words([w.lower() for w in _WORD.findall(normalize(text))])


def simhash_words(words: list[str]) -> int | None:
    """simhash() from the comment's lower-case normalised words, as serve.explain.Prepared holds them."""
    if len(words) < MIN_WORDS:
        return None
    # Bigrams too, so that word order matters a little.
    toks = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    # One 64-bit hash per distinct token, then all bits at once: bit i of the result is set where more
    # tokens have bit i set than not.
    digests = b"".join(hashlib.blake2b(tok.encode(), digest_size=8).digest() for tok in set(toks))
    hashes = np.frombuffer(digests, dtype=">u8")
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = 2 * bits.sum(axis=0, dtype=np.int64) - len(hashes)
    # Bit 63 first, packed 8 to a byte, read as one big-endian integer.
    return int.from_bytes(np.packbits(votes[::-1] > 0).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()


@dataclass
class _Ring:
    """A site's recent fingerprints: fixed-size arrays, overwritten oldest first."""

    fps: np.ndarray
    articles: list[str | None]
    size: int = 0
    next: int = 0

    def add(self, fp: int, article: str | None) -> None:
        self.fps[self.next] = np.uint64(fp)
        self.articles[self.next] = article
        self.next = (self.next + 1) % len(self.articles)
        self.size = min(self.size + 1, len(self.articles))

    def matches(self, fp: int, max_distance: int) -> np.ndarray:
        distance = np.bitwise_count(self.fps[: self.size] ^ np.uint64(fp))
        return np.nonzero(distance <= max_distance)[0]


Loader = Callable[[str, int], list[tuple[int, str]]]


class CopyPasteIndex:
    """Per-site rings of recent fingerprints. `loader(site, limit)` returns the newest (fingerprint, article)
    pairs from storage, newest first; it is called once per site, and a failure there leaves the ring empty."""

    def __init__(self, capacity: int, max_distance: int, loader: Loader | None = None) -> None:
        self.capacity = capacity
        self.max_distance = max_distance
        self.loader = loader
        self._rings: dict[str, _Ring] = {}
        self._unpruned: dict[str, int] = {}
        self._lock = threading.Lock()

    def _ring(self, site: str) -> _Ring:
        ring = self._rings.get(site)
        if ring is None:
            ring = _Ring(np.zeros(self.capacity, dtype=np.uint64), [None] * self.capacity)
            if self.loader is not None:
                try:
                    stored = self.loader(site, self.capacity)
                except Exception:  # storage is down: start empty rather than refuse to moderate
                    log.exception("could not load fingerprints for site %s; starting with an empty index", site)
                    stored = []
                for fp, article in reversed(stored):  # stored is newest first; the ring wants oldest first
                    ring.add(fp & _MASK64, article)
            self._rings[site] = ring
        return ring

    def check_and_add(self, site: str | None, fp: int | None, article: str | None, add: bool = True) -> int:
        """How many earlier fingerprints near-repeat `fp` under an article other than `article`; then add it
        (unless `add` is False: a comment the client asked us not to store is checked, not remembered).

        A comment with no known article (None) counts every earlier near-repeat: it cannot be told apart.
        """
        if fp is None:
            return 0
        with self._lock:  # routes run in a thread pool; the ring's cursor must not be raced
            ring = self._ring(site or DEFAULT_SITE)
            hits = ring.matches(fp, self.max_distance)
            count = sum(1 for i in hits if article is None or ring.articles[i] != article)
            if add:
                ring.add(fp, article)
        return count

    def due_for_prune(self, site: str | None, added: int) -> bool:
        """Count `added` stored fingerprints; True once per capacity/10 of them, when the database should be
        pruned back to `capacity` (so the table stays bounded without a delete on every request)."""
        key = site or DEFAULT_SITE
        with self._lock:
            self._unpruned[key] = self._unpruned.get(key, 0) + added
            if self._unpruned[key] < max(1, self.capacity // 10):
                return False
            self._unpruned[key] = 0
            return True
