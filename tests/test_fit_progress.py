"""`fit` shows progress bars on a terminal, and none with --quiet or when stderr is a file."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from .conftest import ROOT, TINY

BARS = ("embedding: 100%", "calibration folds: 100%", "refit: calibration folds: 100%")

# Slow: five `training.fit` runs in subprocesses, on a pseudo-terminal or a pipe (about 20 s together).
pytestmark = pytest.mark.slow


def fit_command(out: Path, *extra: str) -> list[str]:
    # Through the console script's code: `comment-moderation fit ...`.
    return [sys.executable, "-m", "serve.cli", "fit", "--no-real", "--data", str(TINY), "--out", str(out), *extra]


def on_a_terminal(command: list[str], columns: int = 100) -> str:
    """Run with stderr (and stdout) on a pseudo-terminal of 40 rows and `columns`; what the terminal received."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    received = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal's last open end
            break
        if not chunk:
            break
        received += chunk
    os.close(leader)
    assert proc.wait(timeout=300) == 0, received.decode(errors="replace")[-3000:]
    return received.decode(errors="replace")


@pytest.mark.parametrize("columns", [100, 0])  # 0: a terminal that reports no width (`script`, some CI runners)
def test_bars_on_a_terminal(tmp_path: Path, columns: int):
    shown = on_a_terminal(fit_command(tmp_path / "models"), columns)
    for bar in BARS:
        assert bar in shown, f"no {bar!r} bar in:\n{shown[-3000:]}"
    assert "[fit " in shown  # the stage lines stay


def test_no_bars_with_quiet(tmp_path: Path):
    shown = on_a_terminal(fit_command(tmp_path / "models", "--quiet"))
    assert "%|" not in shown and "\r" not in shown.replace("\r\n", "\n"), shown[-3000:]
    assert "held-out metrics" in shown


@pytest.mark.parametrize("quiet", [(), ("-q",)])
def test_no_bars_when_stderr_is_not_a_terminal(tmp_path: Path, quiet: tuple[str, ...]):
    out = subprocess.run(
        fit_command(tmp_path / "models", *quiet), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "%|" not in out.stderr and "\r" not in out.stderr
    assert "fitting on the training articles" in out.stderr and "wrote " in out.stderr
