"""Servers a fault test owns and breaks: a private ``redis-server``, and a PostgreSQL proxy it can cut.

Each is started by the test and stopped by it whatever happens; none is
shared with another test or with other people's runs.
"""

import asyncio
import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bench.server import free_port
from scripts.local_redis import redis_answers


def wait_for(condition: Callable[[], object], seconds: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class RedisServer:
    """A redis-server of the test's own, on one port for its whole life."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.work_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_for(self.answers, 10):
            raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        return redis_answers(self.url)

    def kill(self) -> None:
        """Stop the server the hard way: no shutdown, the data is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)


class CuttableProxy:
    """A TCP proxy on a free local port in front of ``target``, run by an event loop in a thread.

    ``cut()`` drops every open connection and stops listening, so new
    connections are refused at once (a database that went away, not one that
    hangs); ``restore()`` listens again on the same port.
    """

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faults-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    @property
    def connections(self) -> int:
        return len(self._open) // 2

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer, writer),
            self._pipe(upstream_reader, writer, upstream_writer),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, dest: asyncio.StreamWriter, other: asyncio.StreamWriter
    ) -> None:
        try:
            while chunk := await source.read(65536):
                dest.write(chunk)
                await dest.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side gone: the connection is over both ways.
            for side in (dest, other):
                self._open.discard(side)
                side.transport.abort()
