"""`python -m serve --workers N`: connections dealt to the workers in turn, dead workers replaced, clean stops.

Real processes throughout: the parent, its spawned workers, loopback sockets; the connections each worker
holds are read from the kernel (psutil), not from anything the server reports about itself.
"""

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import httpx
import psutil
import pytest

from model.artifact import point_current

from .live import Live, spawn, wait_ready
from .service_app import set_model_version

WORKERS = 2

pytestmark = pytest.mark.slow  # a multi-process server per test, killed and restarted


def workers_of(live: Live) -> list[psutil.Process]:
    # Spawned workers, not multiprocessing's resource tracker (also a child of the parent).
    return [p for p in psutil.Process(live.proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]


def wait_for(condition, what: str, live: Live, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{live.log()[-4000:]}")


def ready_lines(live: Live) -> int:
    return live.log().count("is ready")


def established_per_worker(live: Live) -> dict[int, int]:
    counts = {}
    for worker in workers_of(live):
        conns = worker.net_connections(kind="tcp")
        counts[worker.pid] = sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == live.port)
    return counts


def keepalive_burst(live: Live, n: int) -> list[socket.socket]:
    """Open n connections at once, as a client's connection pool does, then send one request on each."""
    socks = [socket.create_connection(("127.0.0.1", live.port), timeout=30) for _ in range(n)]
    for s in socks:
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n\r\n".encode())
    for s in socks:
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "every connection is answered"
    return socks


def split_of_a_burst(live: Live, n: int) -> list[int]:
    """Open n keep-alive connections at once; how many each worker holds, smallest first."""
    socks = keepalive_burst(live, n)
    try:
        counts = wait_for(lambda: (c := established_per_worker(live)) and sum(c.values()) == n and c, f"{n}", live)
        return sorted(counts.values())
    finally:
        for s in socks:
            s.close()


def start_workers(model_dir: Path, tmp_path: Path) -> Live:
    return start_workers_on(model_dir, tmp_path, None)


def start_workers_on(model_dir: Path, tmp_path: Path, port: int | None) -> Live:
    env = {"MODERATION_LOG_LEVEL": "info"}
    return spawn(model_dir, tmp_path, env=env, port=port, args=("--workers", str(WORKERS)))


def add_version(models: Path, source: Path, version: str) -> None:
    """models/<version>: a copy of `source` under another version name, and models/current pointing at it."""
    shutil.copytree(source.resolve(), models / version)
    set_model_version(models / version, version)
    point_current(models, version)


def versions_seen(live: Live, connections: int) -> list[str]:
    """The model version each of `connections` keep-alive connections (opened together) is served."""
    socks = [socket.create_connection(("127.0.0.1", live.port), timeout=30) for _ in range(connections)]
    try:
        for s in socks:
            s.sendall(b"GET /v1/model HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        seen = []
        for s in socks:
            body = b""
            while chunk := s.recv(65536):
                body += chunk
            seen.append(json.loads(body.split(b"\r\n\r\n", 1)[1])["version"])
        return seen
    finally:
        for s in socks:
            s.close()


@pytest.fixture()
def live(tiny_model_dir: Path, tmp_path: Path):
    server = start_workers(tiny_model_dir, tmp_path)
    try:
        wait_ready(server)
        wait_for(lambda: ready_lines(server) >= WORKERS, "every worker to be ready", server)
        yield server
    finally:
        server.stop()


def test_a_burst_of_keepalive_connections_is_shared_evenly(live: Live):
    # uvicorn --workers put all 8 of these on one worker (its workers race to accept); here 4 and 4.
    assert split_of_a_burst(live, 8) == [4, 4]


def test_a_killed_worker_is_replaced_and_serving_goes_on(live: Live):
    [victim, survivor] = workers_of(live)
    victim.kill()
    victim.wait(timeout=15)
    # Meanwhile the other worker keeps answering new connections.
    assert httpx.post(f"{live.url}/v1/predict", json={"comments": [{"text": "Nice."}]}, timeout=30).status_code == 200
    wait_for(lambda: ready_lines(live) >= WORKERS + 1, "the replacement worker", live)
    pids = {p.pid for p in workers_of(live)}
    assert len(pids) == WORKERS and victim.pid not in pids and survivor.pid in pids
    assert "exited with -9: starting it again" in live.log()
    assert split_of_a_burst(live, 4) == [2, 2]  # the replacement takes its share


def test_sigterm_stops_the_workers_too(live: Live):
    workers = workers_of(live)
    live.proc.send_signal(signal.SIGTERM)
    assert live.proc.wait(timeout=60) == 0, live.log()[-3000:]
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"workers left running: {alive}"


def test_workers_exit_when_the_parent_is_killed(live: Live):
    workers = workers_of(live)
    os.kill(live.proc.pid, signal.SIGKILL)
    live.proc.wait(timeout=15)
    gone, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, f"orphaned workers: {alive}"


def test_a_reload_reaches_every_worker(tiny_model_dir: Path, tmp_path: Path):
    models = tmp_path / "models"
    models.mkdir()
    add_version(models, tiny_model_dir, "v1")
    live = start_workers(models / "current", tmp_path)
    try:
        wait_ready(live)
        wait_for(lambda: ready_lines(live) >= WORKERS, "every worker to be ready", live)
        assert versions_seen(live, 4) == ["v1"] * 4  # 2 connections on each worker
        add_version(models, tiny_model_dir, "v2")
        r = httpx.post(f"{live.url}/v1/admin/reload", timeout=60)  # reaches one worker
        assert r.status_code == 200 and r.json()["model_version"] == "v2", r.text
        # The other worker reloads when the parent passes the word on.
        wait_for(lambda: versions_seen(live, 4) == ["v2"] * 4, "every worker to serve v2", live, timeout=60)
        assert live.log().count("reloaded: model v2 (was v1)") == WORKERS
    finally:
        live.stop()


def test_a_taken_port_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        live = start_workers_on(tiny_model_dir, tmp_path, port)
        assert live.proc.wait(timeout=120) == 1
    assert f"cannot start, cannot listen on 127.0.0.1:{port}" in live.log()
