"""Child processes of a benchmark run: each in a process group of its own, always stopped.

Every server and worker is started with ``start_new_session=True``, so it
and whatever it forks (a prefork pool) form one process group named by its
own pid. ``stop_group`` asks the leader to stop, then ends the group by that
id; ``cleanup_on_signals`` turns SIGTERM and SIGHUP into an exception, so the
``finally`` blocks that stop the groups also run when the benchmark itself
is told to stop.
"""

import os
import signal
import subprocess
import time
from pathlib import Path


def stop_group(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to the group's leader (a warm shutdown for Celery), SIGKILL to the group after ``grace``."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to every process still in the group the leader started, then reap the leader."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def group_pids(leader: int) -> list[int]:
    """Pids of the live processes in the group ``leader`` started (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == leader:
                pids.append(int(entry.name))
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in kB: its resident size now and the highest it ever was."""
    rss = peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        pass
    return rss, peak


class Stop(Exception):
    """The benchmark was told to stop (SIGTERM or SIGHUP)."""


def cleanup_on_signals() -> None:
    def stop(signum: int, frame: object) -> None:
        raise Stop(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def wait_for(condition, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of ``pids`` so far (0 for any that is gone)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
