"""Where writers queue before they ask SQLite for its write lock.

Why: SQLite's own wait for a busy write lock sleeps in growing steps (1, 2, 5, 10 ... 100 ms). Eight request
threads, or two worker processes, contending for it turned a 1 ms insert into tens of milliseconds at p99
(bench/load.py). Here the threads of one process queue on a Python lock, and processes on an advisory lock
file beside the database (flock), both of which hand over the moment the holder lets go. SQLite's lock and
busy timeout stay underneath, for writers that do not use this (the maintenance CLI, sqlite3).

PostgreSQL needs none of this (its writers do not exclude each other), so Store gives it a NoLock.

The lock file is `<database>-writelock`, next to the -wal and -shm files SQLite keeps there. Where it cannot
be opened (a read-only directory, no fcntl on this platform), writers fall back to SQLite's own wait.
"""

import logging
import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's own wait is all there is
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# How often a writer that finds the file lock held looks again; SQLite's first sleep is 1 ms too, but its
# later ones grow to 100 ms.
POLL_S = 0.0005


class WriteLock:
    """A context manager: held by one thread of one process at a time (per database file)."""

    def __init__(self, database: Path | None, timeout_s: float) -> None:
        self._threads = threading.Lock()
        self._path = Path(f"{database}-writelock") if database is not None and fcntl is not None else None
        self._timeout_s = timeout_s
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child must open its own

    def __enter__(self) -> "WriteLock":
        self._threads.acquire()
        try:
            fd = self._file()
            if fd is not None:
                self._lock_file(fd)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._pid = os.getpid()
            except OSError as e:
                log.info("cannot open %s (%s); writers wait on SQLite's busy timeout instead", self._path, e)
                self._path = None
                return None
        return self._fd

    def _lock_file(self, fd: int) -> None:
        """flock, polled rather than blocking: after the busy timeout, go on and let SQLite's own timeout
        decide, so a hung process elsewhere fails a write instead of hanging this one forever."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    # Unlocking a flock this process does not hold is harmless, so __exit__ needs no flag.
                    log.warning("%s is still held after %.0f s; writing without it", self._path, self._timeout_s)
                    return
                time.sleep(POLL_S)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class NoLock:
    """WriteLock's interface, holding nothing: for PostgreSQL."""

    def __enter__(self) -> "NoLock":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass
