"""Starting and stopping the sandbox server (``manage.py run_sandbox``) on a free localhost port."""

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sandbox_server(port: int, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """The stand-ins at the root of http://127.0.0.1:PORT/; stopped (by their own pid) on exit.

    ``env`` is ``bench.env.bench_environment``'s: the benchmark database and
    settings, and request counting on.
    """
    command = [
        sys.executable,
        "manage.py",
        "run_sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-sender",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/", process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox server exited with status {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"the sandbox server did not answer at {url} within {timeout:.0f}s")
