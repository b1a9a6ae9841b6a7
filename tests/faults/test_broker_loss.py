"""A worker outlives its Redis broker going away, and consumes again once it is back.

Each test starts a private ``redis-server`` on a free port and a real worker
(prefork, one process, the Procfile's flags) on it, with the project's Celery
settings and the task of ``tests.faults.worker_app``. It hands the worker some
work, then breaks Redis in one of two ways:

* restarted empty: the server is killed and a new one started on the same port;
* frozen: the server is stopped with SIGSTOP for FREEZE_SECONDS, then resumed.

The worker's main process must still be the same live process afterwards, and
a task sent after Redis came back must have run within RECOVERY_SECONDS.

The work in hand matters. A worker that holds unacknowledged messages (here
tasks waiting for their countdown) and is waiting on Redis for more when the
connection drops is the case that celery 5.7.0 turned into "Unrecoverable
error: AttributeError(... 'hostname')": the restart test fails every time with
that release.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from tests.faults.servers import RedisServer, wait_for

BASE_DIR = Path(__file__).resolve().parents[2]

# From sending a task after Redis is back to the task having run. The worker
# retries the broker 2 s after the first failure, then 4 s, 6 s, ...; a
# recovery usually takes 2 to 6 s.
RECOVERY_SECONDS = 20.0
# Twice the broker's socket timeout (CELERY_BROKER_TRANSPORT_OPTIONS): what the
# worker sends while Redis is frozen times out, and it must carry on after that.
FREEZE_SECONDS = 20.0
# Start-up of the worker under a loaded machine (Django set-up, pool fork).
STARTUP_SECONDS = 30.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class Worker:
    """``celery worker`` in a process group of its own, logging to a file."""

    def __init__(self, broker_url: str, log_path: Path) -> None:
        self.broker_url = broker_url
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "REDIS_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery",
                    "-A", "tests.faults.worker_app",
                    "worker",
                    "--pool", "prefork",
                    "--concurrency", "1",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel", "INFO",
                ],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        """The log's last lines, after its first critical one if any."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no worker log)"
        critical = [line for line in text if "CRITICAL" in line or "Unrecoverable" in line][:1]
        return "\n".join([*critical, "...", *text[-lines:]])

    def stop(self) -> None:
        """Warm shutdown; the whole process group is killed if that hangs."""
        if self.process is None:
            return
        pgid = self.process.pid  # the group leader: start_new_session=True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        # The pool's children too, even when the main process already died.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def send_mark(broker_url: str, *, seconds: float = 0.0, countdown: float | None = None) -> str:
    """Queue the worker app's task on a fresh connection; return its marker key."""
    key = f"faults:{uuid.uuid4().hex}"
    sender = Celery("faults-sender", broker=broker_url, set_as_current=False)
    try:
        sender.send_task(
            "faults.mark",
            args=[broker_url, key, seconds],
            countdown=countdown,
            queue=getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"),
        )
    finally:
        sender.close()
    return key


def marked(server: RedisServer, key: str) -> bool:
    client = server.client()
    try:
        return client.exists(key) == 1
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@pytest.fixture
def broker(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
def worker(broker, tmp_path) -> Iterator[Worker]:
    running = Worker(broker.url, tmp_path / "worker.log")
    try:
        running.start()
        first = send_mark(broker.url)
        assert wait_for(lambda: marked(broker, first) or not running.alive(), STARTUP_SECONDS), (
            f"the worker ran no task within {STARTUP_SECONDS:.0f} s of starting:\n{running.log_tail()}"
        )
        assert running.alive(), f"the worker died on start-up:\n{running.log_tail()}"
        yield running
    finally:
        running.stop()


def hand_over_work(broker: RedisServer, worker: Worker, running_seconds: float) -> None:
    """Leave the worker holding unacknowledged messages.

    Two tasks wait in the worker for their countdown, then a third runs for
    ``running_seconds``. The worker fetches in order, so once the third has
    started it holds all three.
    """
    for _ in range(2):
        send_mark(broker.url, countdown=600)
    last = send_mark(broker.url, seconds=running_seconds)
    assert wait_for(lambda: marked(broker, last), 15), (
        f"the worker did not start the task:\n{worker.log_tail()}"
    )


def assert_consumes_after_recovery(broker: RedisServer, worker: Worker) -> None:
    pid = worker.process.pid
    sent_at = time.monotonic()
    key = send_mark(broker.url)
    done = wait_for(lambda: marked(broker, key) or not worker.alive(), RECOVERY_SECONDS)
    took = time.monotonic() - sent_at
    assert worker.alive(), f"the worker's main process (pid {pid}) died:\n{worker.log_tail()}"
    assert done and marked(broker, key), (
        f"a task sent after Redis came back had not run after {took:.1f} s:\n{worker.log_tail()}"
    )
    assert "Unrecoverable error" not in worker.log_path.read_text(errors="replace")


@pytest.mark.timeout(120)
def test_worker_survives_redis_restarted_empty(broker, worker):
    hand_over_work(broker, worker, running_seconds=0)
    # Idle now, waiting on Redis for more while it holds two messages: the
    # case that killed celery 5.7.0's worker.
    time.sleep(0.5)

    broker.kill()
    time.sleep(1)
    assert worker.alive(), f"the worker died while Redis was down:\n{worker.log_tail()}"
    broker.start()

    assert_consumes_after_recovery(broker, worker)


@pytest.mark.timeout(120)
def test_worker_survives_redis_frozen_then_resumed(broker, worker):
    # The running task ends while Redis is frozen: its acknowledgement is due then.
    hand_over_work(broker, worker, running_seconds=2)

    broker.freeze()
    try:
        time.sleep(FREEZE_SECONDS)
        assert worker.alive(), f"the worker died while Redis was frozen:\n{worker.log_tail()}"
    finally:
        broker.thaw()

    assert_consumes_after_recovery(broker, worker)
