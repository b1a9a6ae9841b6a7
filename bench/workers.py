"""Real Celery workers for a benchmark run: N machines, each a prefork worker of K processes.

Each machine is what a worker dyno is in production: its own WORKER_NAME
(so its own queue, ``history.<name>``), its own DATA_WORK_DIR (its own
disk), started as ``celery -A datauploader worker --pool prefork
--concurrency K`` in a process group of its own. Memory is read from
/proc for every process of every group while the run lasts: VmHWM is the
kernel's own high-water mark of each process, so a peak between two
samples is not missed.

Runs are counted from the workers' logs (LOG_LEVEL=INFO): Celery logs every
``process_moves`` message it receives, and the task logs one line per run
that ends normally with the Moves requests it sent (``datauploader.tasks``:
"process_moves <id>: <outcome>; N requests, ...").
"""

import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.env import app_env
from bench.processes import cpu_seconds, group_pids, kill_group, memory_kb, wait_for

BASE_DIR = Path(__file__).resolve().parent.parent
READY = re.compile(r"\S+@\S+ ready\.")
RECEIVED = re.compile(r"Task datauploader\.process_moves\[[^\]]+\] received")
RUN_LINE = re.compile(
    r"process_moves (\S+): ([^;\n]+); (\d+) requests in \d+ batches, (\d+) weeks, "
    r"(\d+) days changed(, uploaded)?"
)
DISPATCH_LINE = re.compile(r"dispatch: (\d+) requests to (\d+) members")
SUCCEEDED = re.compile(r"Task datauploader\.process_moves\[[^\]]+\] succeeded in ([0-9.]+)s")
ALIVE_KEY = "workers:alive"  # datauploader.machines.ALIVE_KEY
SAMPLE_SECONDS = 0.25


@dataclass
class Machine:
    name: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    clock: subprocess.Popen | None = None
    # kB, per pid: the last VmRSS seen after start-up (idle) and the highest VmHWM seen.
    idle: dict[int, int] = field(default_factory=dict)
    peak: dict[int, int] = field(default_factory=dict)
    peak_total: int = 0
    leaders: list[int] = field(default_factory=list)
    # "ready" lines in the log before the latest start.
    ready_before: int = 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass(frozen=True)
class RunCounts:
    """What the workers' logs say about ``process_moves`` runs."""

    runs: int
    with_requests: int
    requests: int
    outcomes: dict[str, int]
    dispatches: int
    # Seconds the runs took, from Celery's line for each that ended.
    seconds: float = 0.0

    @property
    def without_requests(self) -> int:
        return self.runs - self.with_requests


@dataclass(frozen=True)
class Memory:
    """Peak memory of the workers, MB."""

    peak_process: float
    peak_child_above_idle: float
    peak_machine_total: float


class Workers:
    def __init__(
        self,
        env: dict[str, str],
        work_dir: Path,
        *,
        machines: int,
        concurrency: int,
        clock: bool = False,
        **settings: str,
    ) -> None:
        self.concurrency = concurrency
        self.clock = clock
        # Two minute windows and a second: the ticker's first tick comes at the next one.
        self.alive_timeout = 2 * 60 / float(env["RATE_LIMIT_TIME_SCALE"]) + 1
        self.heartbeats = False
        self.redis = redis.Redis.from_url(env["REDIS_URL"])
        self.machines = []
        for number in range(1, machines + 1):
            name = f"machine-{number}"
            self.machines.append(
                Machine(
                    name=name,
                    log_path=work_dir / f"worker-{name}.log",
                    env=app_env(
                        env,
                        WORKER_NAME=name,
                        DATA_WORK_DIR=str(work_dir / name),
                        LOG_LEVEL="INFO",
                        **settings,
                    ),
                )
            )
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    # --- Lifecycle ----------------------------------------------------------------

    def __enter__(self) -> "Workers":
        try:
            for machine in self.machines:
                self._start(machine)
            for machine in self.machines:
                self._wait_ready(machine)
                if self.clock:
                    self._start_clock(machine)
            self.heartbeats = self._wait_alive(
                [machine.name for machine in self.machines], self.alive_timeout
            )
            time.sleep(0.5)
            for machine in self.machines:
                assert machine.process is not None
                for pid in group_pids(machine.process.pid):
                    machine.idle[pid] = memory_kb(pid)[0]
            self._sampling.clear()
            self._sampler = threading.Thread(target=self._sample_loop, name="bench-memory", daemon=True)
            self._sampler.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, grace: float = 40.0) -> None:
        self._sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=5)
        self.sample()
        for machine in self.machines:
            if machine.clock is not None:
                kill_group(machine.clock)
        # Every machine is told at once (a warm shutdown: running tasks finish, unsent
        # histories are uploaded); what is left after ``grace`` is killed.
        for machine in self.machines:
            if machine.process is not None and machine.process.poll() is None:
                machine.process.terminate()
        deadline = time.monotonic() + grace
        for machine in self.machines:
            if machine.process is None:
                continue
            try:
                machine.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            kill_group(machine.process)

    def kill(self, number: int) -> None:
        """SIGKILL machine ``number`` (1-based) with all its processes, as a crash or a lost dyno would."""
        machine = self.machines[number - 1]
        self.sample()
        for process in (machine.process, machine.clock):
            if process is not None:
                kill_group(process)

    def restart(self, number: int) -> None:
        machine = self.machines[number - 1]
        self._start(machine)
        self._wait_ready(machine)
        if self.clock:
            self._start_clock(machine)

    def _start(self, machine: Machine) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "datauploader",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{machine.name}@%h",
        ]
        Path(machine.env["DATA_WORK_DIR"]).mkdir(parents=True, exist_ok=True)
        machine.ready_before = len(READY.findall(machine.log_text()))
        with machine.log_path.open("ab") as log:
            machine.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=machine.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        machine.leaders.append(machine.process.pid)

    def _start_clock(self, machine: Machine) -> None:
        with machine.log_path.with_suffix(".clock.log").open("ab") as log:
            machine.clock = subprocess.Popen(
                [sys.executable, "-m", "bench.clock", "--name", machine.name],
                cwd=BASE_DIR,
                env=machine.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, machine: Machine, timeout: float = 120) -> None:
        def ready() -> bool:
            assert machine.process is not None
            if machine.process.poll() is not None:
                raise RuntimeError(f"worker {machine.name} exited early:\n{machine.log_text()[-4000:]}")
            return len(READY.findall(machine.log_text())) > machine.ready_before

        wait_for(ready, timeout, f"worker {machine.name} ready", interval=0.2)

    def _wait_alive(self, names: list[str], timeout: float) -> bool:
        """Whether every machine ticked once within ``timeout``, so the dispatcher knows it.

        ``datauploader.ticker`` says a machine is alive at the top of every
        server minute; a machine the dispatcher does not know gets no runs
        of its own (``datauploader.machines``).
        """

        def alive() -> bool:
            seen = {name.decode() for name in self.redis.zrange(ALIVE_KEY, 0, -1)}
            return set(names) <= seen

        try:
            wait_for(alive, timeout, "every worker machine's first heartbeat", interval=0.05)
        except TimeoutError:
            return False
        return True

    # --- Memory -----------------------------------------------------------------------

    def _sample_loop(self) -> None:
        while not self._sampling.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        for machine in self.machines:
            if machine.process is None:
                continue
            total = 0
            for pid in group_pids(machine.process.pid):
                rss, peak = memory_kb(pid)
                total += rss
                machine.peak[pid] = max(machine.peak.get(pid, 0), peak)
            machine.peak_total = max(machine.peak_total, total)

    def memory(self) -> Memory:
        peak_process = max((kb for m in self.machines for kb in m.peak.values()), default=0)
        above = [
            m.peak[pid] - m.idle[pid]
            for m in self.machines
            for pid in m.peak
            if pid in m.idle and pid not in m.leaders
        ]
        return Memory(
            peak_process=peak_process / 1024,
            peak_child_above_idle=max(above, default=0) / 1024,
            peak_machine_total=max((m.peak_total for m in self.machines), default=0) / 1024,
        )

    def cpu_seconds(self) -> float:
        """CPU seconds of every process of every machine so far (the pool's included)."""
        return sum(
            cpu_seconds(group_pids(machine.process.pid))
            for machine in self.machines
            if machine.process is not None
        )

    # --- Runs ---------------------------------------------------------------------------

    def run_counts(self) -> RunCounts:
        runs = with_requests = requests = dispatches = 0
        seconds = 0.0
        outcomes: Counter[str] = Counter()
        for machine in self.machines:
            text = machine.log_text()
            runs += len(RECEIVED.findall(text))
            seconds += sum(float(found) for found in SUCCEEDED.findall(text))
            dispatches += len(DISPATCH_LINE.findall(text))
            for match in RUN_LINE.finditer(text):
                sent = int(match.group(3))
                requests += sent
                with_requests += sent > 0
                outcomes[match.group(2)] += 1
        return RunCounts(runs, with_requests, requests, dict(outcomes), dispatches, seconds)
