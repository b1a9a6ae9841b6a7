"""Our backfill, run the way production runs it: a real Celery worker on Redis.

The worker (``celery -A datauploader worker --pool solo``) runs the task in
its own main process, so its peak RSS (``ru_maxrss`` from ``wait4`` once it
stopped) is the task's, and its idle size is sampled after it said ready and
before the task is queued. The task re-queues itself with the countdown the
rate limit asks for; the worker's own timer runs those, as in production.
Wall time runs from queuing the first task to the member's data being
complete on Open Humans (``MovesMember.last_updated`` set).
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
SCHEDULER = "a real Celery worker (solo pool) on a Redis database of its own"
READY = re.compile(r"\S+@\S+ ready\.")
RECEIVED = re.compile(r"Task datauploader\.process_moves\[[^\]]+\] received")
POLL_SECONDS = 0.02


def available() -> tuple[bool, str]:
    """Whether the sync task exists in this checkout, and why not."""
    try:
        from datauploader.tasks import enqueue_process_moves, process_moves  # noqa: F401
    except ImportError as exc:
        return False, f"datauploader.tasks is not importable ({exc})"
    return True, ""


def _wait_for(log_path: Path, pattern: re.Pattern, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited early:\n{log_path.read_text()[-4000:]}")
        if pattern.search(log_path.read_text(errors="replace")):
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"the Celery worker was not ready within {timeout:.0f}s:\n{log_path.read_text()[-4000:]}"
    )


def _stop(worker: subprocess.Popen, grace: float = 20) -> "os.struct_rusage | None":  # type: ignore[name-defined]
    """Stop the worker (warm shutdown) and return its resource usage, reaping it ourselves."""
    if worker.returncode is not None:
        return None
    worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while True:
        pid, status, usage = os.wait4(worker.pid, os.WNOHANG)
        if pid:
            worker.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            worker.kill()
        time.sleep(0.05)


def backfill(oh_id: str, env: dict[str, str], log_path: Path, timeout: float) -> dict:
    """Run one member's backfill end to end; returns wall, idle_rss, peak_rss, runs."""
    from django.db import transaction

    from datauploader.tasks import enqueue_process_moves
    from main.models import MovesMember

    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "datauploader",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"bench-{oh_id}@%h",
    ]
    with log_path.open("wb") as log:
        worker = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(log_path, READY, worker, timeout=60)
        time.sleep(0.5)
        idle = psutil.Process(worker.pid).memory_info().rss
        member = MovesMember.objects.get(member__oh_id=oh_id)
        started = time.perf_counter()
        with transaction.atomic():
            enqueue_process_moves(oh_id)
        deadline = time.monotonic() + timeout
        while True:
            member.refresh_from_db()
            if member.last_updated is not None:
                break
            if member.status in (MovesMember.Status.FAILING, MovesMember.Status.NEEDS_RECONNECT):
                raise RuntimeError(f"backfill of {oh_id} ended {member.status}: {member.last_error}")
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(
                    f"backfill of {oh_id} not complete (status {member.status}, "
                    f"{member.weeks_done}/{member.weeks_total} weeks):\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
    finally:
        usage = _stop(worker)
    runs = len(RECEIVED.findall(log_path.read_text(errors="replace")))
    if usage is None:
        raise RuntimeError("the Celery worker exited on its own; its peak RSS is unknown")
    return {"wall": wall, "idle_rss": idle, "peak_rss": usage.ru_maxrss * 1024, "runs": runs}


def update_data(broker) -> dict:
    """Time our ``update_data`` over the members in the database, then the fan-out a worker does.

    ``broker`` is a Redis client on the (otherwise empty) broker database and
    nobody consumes it. The command sends one message per batch of members;
    the worker then turns each batch into one ``process_moves`` message per
    member. Both steps are timed here, the second by running every batch task
    in this process the way one worker would, so the figure compares like with
    like against a loop that sends one message per member itself.

    Returns seconds of the command (``ours``), its batch messages, the members
    those hold (``ours_queued``), and seconds of the fan-out (``fan_out``) with
    the ``process_moves`` messages it left in the queue.
    """
    import base64
    import json

    from django.core.management import call_command

    from datauploader.tasks import queue_process_moves_batch

    queue = "celery"
    started = time.perf_counter()
    call_command("update_data", verbosity=0)
    command_seconds = time.perf_counter() - started
    batches = [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]
    broker.delete(queue)
    # A Celery message body is [args, kwargs, embed]; a batch's only argument is its list of ids.
    id_lists = [json.loads(base64.b64decode(message["body"]))[0][0] for message in batches]

    started = time.perf_counter()
    for ids in id_lists:
        queue_process_moves_batch.run(ids)
    fan_out_seconds = time.perf_counter() - started
    return {
        "ours": command_seconds,
        "ours_batches": len(batches),
        "ours_queued": sum(len(ids) for ids in id_lists),
        "fan_out": fan_out_seconds,
        "fan_out_queued": int(broker.llen(queue)),
    }
