"""A real `python -m serve` process on a loopback port, for tests that need real HTTP, real sockets, real kills."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .conftest import ROOT, free_port

# Startup imports torch and scikit-learn: on 2 busy cores this can take tens of seconds.
START_TIMEOUT_S = 120.0


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s; waits for the exit either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@dataclass
class Live:
    proc: subprocess.Popen
    url: str
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)


def spawn(
    model_dir: Path, workdir: Path, env: dict[str, str] | None = None, port: int | None = None, args: tuple = ()
) -> Live:
    """Start the server (not waiting for it). Its database defaults to a file in `workdir`; `args` go to
    `python -m serve` after the address and model."""
    port = port or free_port()
    log_path = workdir / f"server-{port}.log"
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MODERATION_DATABASE_URL": f"sqlite:///{workdir / 'moderation.sqlite3'}",
        # These tests send hundreds of requests a second from one address on purpose; the rate limiter has
        # its own tests (tests/test_ratelimit.py). A test can turn it back on through `env`.
        "MODERATION_RATE_LIMIT_PER_MINUTE": "0",
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir)]
    cmd += list(args)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    return Live(proc, f"http://127.0.0.1:{port}", port, log_path)


def wait_ready(live: Live, timeout: float = START_TIMEOUT_S) -> Live:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.proc.poll() is not None:
            raise AssertionError(f"server exited early with {live.proc.returncode}:\n{live.log()}")
        try:
            if httpx.get(f"{live.url}/readyz", timeout=2).status_code == 200:
                return live
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    live.stop()
    raise AssertionError(f"server did not become ready in {timeout:.0f}s:\n{live.log()}")


def start(
    model_dir: Path, workdir: Path, env: dict[str, str] | None = None, port: int | None = None, args: tuple = ()
) -> Live:
    return wait_ready(spawn(model_dir, workdir, env, port, args))
