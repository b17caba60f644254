"""Several worker processes behind one port, with connections dealt out to them in turn.

Why not `uvicorn --workers N`: its workers share the listening socket, and whichever wakes first accepts
everything that is pending. A moderation backend opens its keep-alive connections in a burst (a pool of 8
at start-up), so one worker took all of them: measured, 8 of 8 connections on one of two workers, and two
workers served no more than one. Here the parent process accepts each connection and passes it to the
next ready worker (the file descriptor travels over a Unix socket, SCM_RIGHTS), so 8 connections become 4
and 4. A connection stays with its worker for its life, as it would with uvicorn.

The parent never reads a byte of a request: keep-alive traffic costs it nothing, a new connection one local
hand-off. A worker that dies is started again, and connections wait for a ready worker instead of going to
one that is still loading the model. A worker whose parent is gone finishes its requests and exits.
`POST /v1/admin/reload` reaches one worker; once it has reloaded, the parent tells the others to reload
too, so every worker serves the new model (each loads and checks it itself, and logs the outcome).
"""

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from model.artifact import ArtifactError
from model.policy import PolicyError

from . import logs
from .app import create_app
from .routes_admin import reload_state
from .settings import Settings

log = logging.getLogger("serve.workers")

READY = b"R"  # worker -> parent: started, send connections
CONNECTION = b"C"  # parent -> worker: one byte, one file descriptor
RELOAD = b"L"  # worker -> parent: I reloaded (POST /v1/admin/reload); parent -> the other workers: reload
# A worker that dies before it ever became ready will die again (its model or settings are broken): stop
# instead of restarting it in a loop. One that ran and then died is restarted, at most this often.
RESTART_AFTER_S = 1.0
STOP_TIMEOUT_S = 30.0  # SIGTERM to the workers, then this long to finish their requests, then SIGKILL


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    channel: socket.socket  # the parent's end of the socketpair
    started_at: float = field(default_factory=time.monotonic)
    ready: bool = False  # takes connections now
    was_ready: bool = False  # said READY at some point (a worker that never did has a broken start)


def run(host: str, port: int, workers: int, log_level: str) -> int:
    """Serve serve.app:create_app (settings from the environment) with `workers` processes. Returns the exit
    code: 0 after SIGTERM/SIGINT, 1 when a worker could not start."""
    if not hasattr(socket, "send_fds"):  # passing connections between processes needs Unix sockets
        print("error: --workers needs Linux or another Unix; elsewhere run one worker per port", file=sys.stderr)
        return 1
    try:
        listener = socket.create_server((host, port), backlog=2048)
    except OSError as e:  # port taken, address not on this machine, a privileged port
        print(f"error: cannot start, cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 1
    listener.setblocking(False)
    return _Supervisor(listener, workers, log_level).run()


class _Supervisor:
    def __init__(self, listener: socket.socket, workers: int, log_level: str) -> None:
        self.listener = listener
        self.count = workers
        self.log_level = log_level
        self.context = multiprocessing.get_context("spawn")  # fork after torch/onnxruntime threads is unsafe
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []
        self.waiting: list[socket.socket] = []  # accepted while no worker was ready
        self.turn = 0
        self.stopping = False
        self.exit_code = 0

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        host, port = self.listener.getsockname()[:2]
        log.warning("serving on http://%s:%d with %d worker processes (pid %d deals connections)",
                    host, port, self.count, os.getpid())  # fmt: skip
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        for i in range(self.count):
            self._start(i)
        try:
            while not self.stopping:
                for key, _ in self.selector.select(timeout=0.5):
                    if key.data == "accept":
                        self._accept()
                    else:
                        self._event(key.data)
                self._reap()
        finally:
            self._shutdown()
        return self.exit_code

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start(self, index: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        process = self.context.Process(
            target=_worker_main, args=(theirs, self.log_level), name=f"moderation-worker-{index}", daemon=False
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        worker = _Worker(index, process, ours)
        self.selector.register(ours, selectors.EVENT_READ, worker)
        if index < len(self.workers):
            self.workers[index] = worker
        else:
            self.workers.append(worker)

    def _event(self, worker: _Worker) -> None:
        """A worker said it is ready, or its end of the channel closed (it is exiting)."""
        try:
            data = worker.channel.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if READY in data:
            worker.ready = worker.was_ready = True
            log.info("worker %d (pid %d) is ready", worker.index, worker.process.pid)
            self._deal_waiting()
        if RELOAD in data:
            for other in self.workers:
                if other is not worker and other.ready:
                    try:
                        other.channel.send(RELOAD)
                    except OSError as e:  # gone or stuck: a restarted worker loads models/current anyway
                        log.error("could not ask worker %d to reload: %s", other.index, e)
        if not data:
            worker.ready = False
            self.selector.unregister(worker.channel)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:  # e.g. out of file descriptors: log, keep serving what is connected
                log.error("could not accept a connection: %s", e)
                break
            self.waiting.append(conn)
        self._deal_waiting()

    def _deal_waiting(self) -> None:
        while self.waiting:
            if not self._hand_over(self.waiting[0]):
                return  # no worker can take it now; it waits for the next ready worker
            self.waiting.pop(0).close()  # the worker holds its own copy now

    def _hand_over(self, conn: socket.socket) -> bool:
        """Send the connection to the next ready worker in turn; False if none could take it."""
        for _ in range(len(self.workers)):
            worker = self.workers[self.turn % len(self.workers)]
            self.turn += 1
            if not worker.ready:
                continue
            try:
                socket.send_fds(worker.channel, [CONNECTION], [conn.fileno()])
                return True
            except BlockingIOError:
                continue  # its channel is full (the worker is stuck): try the next one
            except OSError:
                worker.ready = False  # it is gone; _reap restarts it
        return False

    def _reap(self) -> None:
        for worker in list(self.workers):
            if worker.process.is_alive():
                continue
            code = worker.process.exitcode
            worker.ready = False
            with contextlib.suppress(KeyError, ValueError):  # already unregistered when its channel closed
                self.selector.unregister(worker.channel)
            worker.channel.close()
            if self.stopping:
                continue
            if not worker.was_ready:
                log.error("worker %d exited with %s before it was ready: stopping (see its log above)",
                          worker.index, code)  # fmt: skip
                self.exit_code, self.stopping = 1, True
                return
            log.error("worker %d (pid %s) exited with %s: starting it again", worker.index, worker.process.pid, code)
            time.sleep(max(0.0, RESTART_AFTER_S - (time.monotonic() - worker.started_at)))
            self._start(worker.index)

    def _shutdown(self) -> None:
        self.selector.close()
        self.listener.close()
        for conn in self.waiting:
            conn.close()
        for worker in self.workers:
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGTERM)  # uvicorn's graceful shutdown in the worker
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                log.error("worker %d did not stop in %.0f s: killing it", worker.index, STOP_TIMEOUT_S)
                worker.process.kill()
                worker.process.join()
            worker.channel.close()


# The worker process


def announce_reload(channel: socket.socket) -> None:
    """Tell the parent that this worker reloaded, so the other workers reload too (the app's after_reload)."""
    try:
        channel.send(RELOAD)
    except OSError as e:
        log.error("could not tell the other workers to reload: %s", e)


def _worker_main(channel: socket.socket, log_level: str) -> None:
    """One worker: uvicorn serving serve.app:create_app on connections the parent passes in."""
    # Settings from the environment, as the parent checked them.
    settings = Settings()
    logs.configure(log_level, settings.log_format)
    app = create_app(settings, after_reload=functools.partial(announce_reload, channel))
    config = worker_config(app, log_level)
    server = uvicorn.Server(config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(server, channel, app))


def worker_config(app: Any, log_level: str) -> uvicorn.Config:
    # Proxy headers as the settings say (off unless trusted_proxies is set), not uvicorn's default of
    # believing X-Forwarded-For from 127.0.0.1.
    settings = app.state.settings
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        **logs.uvicorn_log_config(settings.log_format),
        **settings.uvicorn_proxy_options(),
    )


async def _serve(server: uvicorn.Server, channel: socket.socket, app: Any) -> None:
    taking = asyncio.create_task(_take_connections(server, channel, app))
    try:
        await server.serve(sockets=[])  # no listening socket of its own: connections come from the parent
    finally:
        taking.cancel()
        channel.close()


async def _take_connections(server: uvicorn.Server, channel: socket.socket, app: Any) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    config = server.config
    # What uvicorn's own listening server builds per connection (Server.startup's create_protocol).
    protocol = functools.partial(
        config.http_protocol_class, config=config, server_state=server.server_state, app_state=server.lifespan.state
    )
    channel.setblocking(False)

    def receive() -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(channel, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            for fd in fds:
                conn = socket.socket(fileno=fd)
                loop.create_task(loop.connect_accepted_socket(protocol, conn, ssl=config.ssl))
            if data == RELOAD:
                loop.run_in_executor(None, _reload_for_peer, app)
            if not data:  # the parent is gone: finish what is in flight and exit
                loop.remove_reader(channel.fileno())
                server.should_exit = True
                return

    loop.add_reader(channel.fileno(), receive)
    channel.send(READY)


def _reload_for_peer(app: Any) -> None:
    # reload_state logs and counts the outcome; on failure this worker keeps its model, as the one that was
    # asked would have.
    with contextlib.suppress(ArtifactError, PolicyError):
        reload_state(app.state)
