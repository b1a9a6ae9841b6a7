"""Starting and stopping the stand-ins (``manage.py run_sandbox``) on a free localhost port."""

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from bench.env import SANDBOX_SETTINGS, sandbox_env
from bench.processes import stop_group

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sandbox_server(
    port: int, env: dict[str, str], log_path: Path, *, send_notifications: bool = False
) -> Iterator[subprocess.Popen]:
    """The stand-ins at the root of http://127.0.0.1:PORT/; stopped (by their own process group) on exit.

    ``env`` is ``bench.env.bench_environment``'s: the benchmark database and
    settings, and request counting on. The stand-ins run on their own
    settings (``sandbox.settings``) on that database. With
    ``send_notifications`` they POST storyline notifications to
    SANDBOX_MOVES_NOTIFICATION_URL as Moves would; otherwise they only queue
    them.
    """
    command = [
        sys.executable,
        "manage.py",
        "run_sandbox",
        "--settings",
        SANDBOX_SETTINGS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if not send_notifications:
        command.append("--no-sender")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=sandbox_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, log_path)
        yield process
    finally:
        stop_group(process, grace=15)


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{url} exited with status {process.returncode}:\n{log}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered at {url} within {timeout:.0f}s")
