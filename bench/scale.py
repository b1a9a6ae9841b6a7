"""Many members connecting at once: ``python -m bench.scale --members M --weeks W --workers K``.

Against the stand-ins with compressed time (``--scale``, 20 by default: 60
requests per 3 s, 2,000 per 180 s) and real prefork workers (``--machines``
worker machines of ``--workers`` processes each, ``bench.workers``):

1. M stand-in Moves users with W ISO weeks of history each (their own
   lives), and as many members signed in with Open Humans;
2. all of them connect Moves in one moment, each through
   ``core.accounts.connect_moves`` as the OAuth callback does, at the top of
   a server minute (of a server hour when the requests need more than one
   hour), so the exact floor (``bench.floor``) is the true least makespan;
3. the run lasts until every member is current, then the workers stop;
4. every member's file on Open Humans is compared, day by day, with what the
   stand-in Moves serves (``bench.verify``).

Prints a table of the figures against the targets of the issue "Many
members, one quota", and with ``--json`` one JSON line. Every process it
starts runs in a process group of its own and is stopped on the way out,
whatever happened; the run is bounded by ``--timeout``.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from bench import fixtures, verify
from bench.counting import COUNTS_KEY, read_counts, reset_counts
from bench.databases import drop_database, fresh_database, migrate
from bench.env import bench_environment
from bench.floor import Floor, from_settings
from bench.processes import Stop, cleanup_on_signals, cpu_seconds
from bench.server import free_port, sandbox_server
from bench.workers import Workers

REDIS_SERVER = "redis://127.0.0.1:6379"
DATABASE = "moves_bench_scale"
POLL_SECONDS = 0.1
MB = 1024 * 1024


@dataclass(frozen=True)
class Stats:
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> "Stats":
        if not values:
            return cls(math.nan, math.nan, math.nan)
        return cls(min(values), statistics.median(values), max(values))

    def text(self, unit: str = "s") -> str:
        return f"{self.min:.1f} / {self.median:.1f} / {self.max:.1f} {unit}"


@dataclass
class ScaleResult:
    members: int
    weeks: int
    machines: int
    workers: int
    scale: float
    requests: int
    necessary_requests: int
    floor_seconds: float
    floor_detail: str
    makespan_seconds: float
    completed: bool
    current: int
    runs: int
    runs_without_slots: int
    runs_counted_from: str
    oh_calls: int
    oh_api_calls: int
    oh_storage_calls: int
    oh_calls_by_endpoint: dict[str, int]
    upload_bytes: int
    final_bytes: int
    oh_downloads: int
    download_bytes: int
    first_file_seconds: Stats
    done_seconds: Stats
    moves_429: int
    peak_rss_mb: float
    peak_rss_above_idle_mb: float
    peak_machine_rss_mb: float
    days_checked: int
    problems: list[str] = field(default_factory=list)
    run_outcomes: dict[str, int] = field(default_factory=dict)
    logged_requests: int = 0
    restart: str = ""
    minute_seconds: float = 3.0
    heartbeats: bool = False
    clock: str = ""
    stopped: str = ""
    windows: dict[str, int] = field(default_factory=dict)
    run_seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    load_average: float = 0.0

    @property
    def makespan_ratio(self) -> float | None:
        if not self.completed or not self.floor_seconds:
            return None
        return self.makespan_seconds / self.floor_seconds

    def as_json(self) -> dict:
        data = asdict(self)
        data["makespan_over_floor"] = self.makespan_ratio
        return data


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    goal: str
    met: bool | None  # None: not applicable to this run


def targets(result: ScaleResult) -> list[Target]:
    """The issue's targets, each with this run's figure."""
    out = []
    ratio = result.makespan_ratio
    if not result.completed:
        out.append(
            Target(
                "makespan / exact floor",
                f"did not finish: {result.current} of {result.members} members current after "
                f"{result.makespan_seconds:.0f} s (floor {result.floor_seconds:.1f} s)",
                "<= 1.05",
                False,
            )
        )
    else:
        out.append(
            Target(
                "makespan / exact floor",
                f"{ratio:.3f}" if ratio is not None else "n/a (fits in the first window)",
                "<= 1.05",
                None if ratio is None else ratio <= 1.05,
            )
        )
    out.append(Target("Moves 429 answers", str(result.moves_429), "0", result.moves_429 == 0))
    share = result.runs_without_slots / result.runs if result.runs else 0.0
    out.append(
        Target(
            "runs without a slot",
            f"{result.runs_without_slots} of {result.runs} ({share:.1%})",
            "<= 1% of runs",
            share <= 0.01,
        )
    )
    allowed = result.members + result.requests / 50
    out.append(
        Target(
            "task runs",
            str(result.runs),
            f"<= members + requests / 50 = {allowed:.0f}",
            result.runs <= allowed,
        )
    )
    per_request = result.oh_calls / result.requests if result.requests else 0.0
    out.append(
        Target(
            "Open Humans calls per Moves request",
            f"{per_request:.3f} ({result.oh_calls} / {result.requests})",
            "<= 0.1",
            per_request <= 0.1,
        )
    )
    upload_ratio = result.upload_bytes / result.final_bytes if result.final_bytes else math.inf
    out.append(
        Target(
            "bytes uploaded / final file sizes",
            f"{upload_ratio:.2f}",
            "<= 2.0",
            upload_ratio <= 2.0,
        )
    )
    windows = result.first_file_seconds.max / result.minute_seconds
    out.append(
        Target(
            "last member's first file",
            f"{result.first_file_seconds.max:.1f} s = {windows:.1f} minute-windows",
            "<= 10 minute-windows (issue: 100 members)",
            windows <= 10,
        )
    )
    share_done = result.done_seconds.median / result.makespan_seconds if result.makespan_seconds else 0.0
    out.append(
        Target(
            "median completion / makespan",
            f"{share_done:.2f}",
            "<= 0.60",
            share_done <= 0.60,
        )
    )
    out.append(
        Target(
            "files equal to what Moves serves",
            f"{result.days_checked} days checked, {len(result.problems)} problems",
            "every day once, equal",
            not result.problems,
        )
    )
    return out


def render(result: ScaleResult) -> str:
    r = result
    lines = [
        f"bench.scale: {r.members} members x {r.weeks} weeks, {r.machines} machine(s) x {r.workers} "
        f"prefork processes, time scale {r.scale:g} "
        f"(minute window {60 / r.scale:g} s, hour {3600 / r.scale:g} s)"
        + (f"; {r.restart}" if r.restart else ""),
        f"worker clock: {r.clock}; every machine's heartbeat seen before queueing: "
        + ("yes" if r.heartbeats else "NO"),
        "",
    ]
    rows = [
        (
            "Moves requests",
            f"{r.requests} (necessary: {r.necessary_requests} = {r.members} x ({r.weeks} + 1))",
        ),
        ("exact floor", f"{r.floor_seconds:.1f} s ({r.floor_detail})"),
        (
            "makespan",
            (
                f"{r.makespan_seconds:.1f} s"
                + (f" = {r.makespan_ratio:.3f}x floor" if r.makespan_ratio is not None else "")
            )
            if r.completed
            else f"NOT FINISHED: {r.current} of {r.members} current after "
            f"{r.makespan_seconds:.0f} s ({r.stopped})",
        ),
        (
            "task runs",
            f"{r.runs} ({r.runs_without_slots} sent no Moves request; {r.logged_requests} requests logged by "
            f"runs; counted from {r.runs_counted_from})",
        ),
        ("run outcomes", ", ".join(f"{name}: {count}" for name, count in sorted(r.run_outcomes.items()))),
        (
            "Open Humans calls",
            f"{r.oh_calls} = {r.oh_api_calls} API + {r.oh_storage_calls} storage "
            f"({', '.join(f'{name} {count}' for name, count in sorted(r.oh_calls_by_endpoint.items()))})",
        ),
        (
            "bytes uploaded / final",
            f"{r.upload_bytes / MB:.1f} MB / {r.final_bytes / MB:.1f} MB",
        ),
        ("downloads from Open Humans", f"{r.oh_downloads} ({r.download_bytes / MB:.1f} MB)"),
        ("first file after queueing", r.first_file_seconds.text() + " (min / median / max)"),
        ("current after queueing", r.done_seconds.text() + " (min / median / max)"),
        (
            "minute windows",
            f"{r.windows.get('windows', 0)} from the first request to the last: "
            f"{r.windows.get('full', 0)} full, "
            f"{r.windows.get('short', 0)} short of the limit while the hour had room, "
            f"{r.windows.get('idle', 0)} of them without any request "
            f"({r.windows.get('unused', 0)} requests left unused)",
        ),
        (
            "time in runs",
            f"{r.run_seconds:.0f} s in all, "
            + (
                f"{r.run_seconds / r.logged_requests * 1000:.0f} ms per Moves request"
                if r.logged_requests
                else "no requests"
            ),
        ),
        (
            "CPU while it ran",
            ", ".join(
                f"{name} {seconds:.0f} s ({seconds / max(r.makespan_seconds, 1e-9):.0%} of one core)"
                for name, seconds in r.cpu_seconds.items()
            )
            + f"; load average at the end {r.load_average:.1f} on {os.cpu_count()} cores",
        ),
        ("Moves 429 answers", str(r.moves_429)),
        (
            "worker memory",
            f"peak RSS of one process {r.peak_rss_mb:.1f} MB ({r.peak_rss_above_idle_mb:.1f} MB above idle), "
            f"of one machine's processes together {r.peak_machine_rss_mb:.1f} MB",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines.append("")
    lines.append("Targets (issue 14):")
    found = targets(result)
    width = max(len(t.name) for t in found)
    for t in found:
        verdict = "n/a" if t.met is None else "met" if t.met else "MISSED"
        lines.append(f"  {t.name.ljust(width)}  {t.value}  (target {t.goal}): {verdict}")
    for problem in r.problems[:20]:
        lines.append(f"  problem: {problem}")
    return "\n".join(lines)


# --- The run --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, required=True, help="members connecting at once")
    parser.add_argument("--weeks", type=int, required=True, help="ISO weeks of history each")
    parser.add_argument("--workers", type=int, default=4, help="prefork processes per machine")
    parser.add_argument("--machines", type=int, default=1, help="worker machines")
    parser.add_argument(
        "--scale", type=float, default=20.0, help="RATE_LIMIT_TIME_SCALE (20: 60 requests per 3 s)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis database to flush and use")
    parser.add_argument(
        "--timeout", type=float, default=0, help="seconds before giving up (default from the floor)"
    )
    parser.add_argument(
        "--restart-at",
        type=float,
        default=0,
        help="seconds after queueing at which machine 1 is killed (SIGKILL) and started again",
    )
    parser.add_argument(
        "--clock",
        action="store_true",
        help="run bench.clock beside each machine: the worker's clock as meant to tick (see bench.clock)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory, logs and database")
    args = parser.parse_args(argv)
    if args.members < 1 or args.weeks < 1 or args.workers < 1 or args.machines < 1:
        parser.error("members, weeks, workers and machines must be at least 1")
    return args


class Session:
    """A fresh database, a flushed Redis database and the stand-ins, for the runs of this process.

    Django is set up once per process, on the benchmark's database, so a
    process holds one session.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        scale: float,
        redis_db: int,
        database: str = DATABASE,
        keep: bool = False,
        notification_url: str = "",
    ):
        self.work_dir = work_dir
        # Where the stand-in Moves sends its storyline notifications; none are sent without one.
        self.notification_url = notification_url
        self.scale = scale
        self.keep = keep
        self.port = free_port()
        self.redis_url = f"{REDIS_SERVER}/{redis_db}"
        self.redis = redis.Redis.from_url(self.redis_url)
        self.database_name = database
        self.database_url = ""
        self.env: dict[str, str] = {}
        self._server = None
        self.server_process: subprocess.Popen | None = None

    def __enter__(self) -> "Session":
        self.redis.flushdb()
        self.database_url, _ = fresh_database(self.database_name, self.work_dir)
        self.env = bench_environment(
            base_url=f"http://127.0.0.1:{self.port}",
            scale=self.scale,
            redis_url=self.redis_url,
            database_url=self.database_url,
            work_dir=self.work_dir,
        )
        if self.notification_url:
            self.env["SANDBOX_MOVES_NOTIFICATION_URL"] = self.notification_url
        migrate(self.env)
        os.environ.update(self.env)
        import django

        django.setup()
        self._server = sandbox_server(
            self.port, self.env, self.work_dir / "sandbox.log", send_notifications=bool(self.notification_url)
        )
        self.server_process = self._server.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        from django.db import connections

        try:
            if self._server is not None:
                self._server.__exit__(None, None, None)
        finally:
            connections.close_all()
            if not self.keep:
                drop_database(self.database_url)

    def clean_slate(self) -> None:
        """Nothing of an earlier run (quota counts, queues, the stand-in's counts) reaches the next one."""
        self.redis.flushdb()


def seed_members(count: int, weeks: int, prefix: str = "bench") -> list[tuple[fixtures.BenchMember, object]]:
    """``count`` members, each with a Moves life of their own ``weeks`` ISO weeks long, signed in."""
    from sandbox.synthetic import local_today

    first = fixtures.first_date_for_weeks(local_today("Europe/Berlin"), weeks)
    members = []
    for number in range(count):
        bench = fixtures.sandbox_member(f"{prefix}-{number:03d}", first)
        members.append((bench, fixtures.signed_in(bench)))
    return members


# Members are queued this long after the top of a window: until then the app is not sure
# which minute the server is in (its clock is trusted to 0.1 s, plus a 0.25 s margin
# scaled with time), so a dispatch woken earlier hands out nothing.
QUEUE_AFTER_WINDOW_START = 0.15


def wait_for_window_start(necessary: Floor) -> None:
    """Sleep to just after the top of the next server minute (hour, when one hour is not enough).

    The stand-in's clock is this machine's; windows are multiples of their
    length since the epoch (``apiclients.windows``).
    """
    length = necessary.hour_seconds if necessary.hour_windows > 1 else necessary.minute_seconds
    now = time.time()
    start = math.ceil(now / length) * length
    time.sleep(max(0.0, start - now) + QUEUE_AFTER_WINDOW_START)


@dataclass
class Progress:
    queued_at: float
    done: dict[str, float]
    completed: bool
    waited: float
    restarted: str = ""
    why: str = ""
    per_window: dict[int, int] = field(default_factory=dict)
    # When each member's first file was complete on Open Humans (the stand-in's own time).
    first_files: dict[str, float] = field(default_factory=dict)
    # CPU seconds spent meanwhile, by kind of process.
    cpu: dict[str, float] = field(default_factory=dict)


# A run ends early when nothing moves for this many minute windows: no Moves request
# although the hour has room (stalled, after an hour window more), or requests all along
# but no member any further (livelock).
STALL_WINDOWS = 20


@dataclass
class Stall:
    """Whether the run stopped moving for ``STALL_WINDOWS`` minute windows.

    Stalled: the stand-in Moves saw no request while the app's hour still had
    room (waiting for the next hour is no stall). Livelocked: requests go on,
    half a window's worth a window at least, but no member fetched a week or
    became current.
    """

    client: redis.Redis
    window: float
    hour_seconds: float
    hour_limit: int
    members: set[str]
    # Requests the stand-in counted in each minute window, by the window's index.
    per_window: dict[int, int] = field(default_factory=dict)
    minute_limit: int = 59
    seen: int = -1
    progress: int = -1
    requests_at_progress: int = 0
    since_request: float = field(default_factory=time.monotonic)
    since_progress: float = field(default_factory=time.monotonic)

    def check(self, done: int) -> str:
        from django.conf import settings
        from django.db.models import Sum

        from core.models import MovesMember
        from sandbox import limits

        now = time.monotonic()
        self._count_windows(settings.MOVES_CLIENT_ID)
        requests = int(self.client.hget(COUNTS_KEY, "moves_requests") or 0)
        if requests != self.seen:
            self.seen, self.since_request = requests, now
        weeks = MovesMember.objects.filter(member__oh_id__in=self.members).aggregate(weeks=Sum("weeks_done"))
        progress = (weeks["weeks"] or 0) + done
        if progress != self.progress:
            self.progress, self.since_progress, self.requests_at_progress = progress, now, requests
        limit = STALL_WINDOWS * self.window
        _, hour_used = limits.used(settings.MOVES_CLIENT_ID)
        # The app may believe the hour spent when Moves does not (it counts what it handed
        # out): that wait ends at the next hour, so only a longer silence is a stall.
        if now - self.since_request > self.hour_seconds + limit and hour_used < self.hour_limit:
            return (
                f"stalled: no Moves request for an hour window and {STALL_WINDOWS} minute windows "
                "while the hour had room"
            )
        # A livelock spends quota all along: half of every window for STALL_WINDOWS windows.
        spent = requests - self.requests_at_progress
        if now - self.since_progress > limit and spent >= STALL_WINDOWS * self.minute_limit // 2:
            return (
                f"livelocked: {spent} Moves requests in {now - self.since_progress:.0f} s, "
                "but no member fetched a week or became current"
            )
        return ""

    def _count_windows(self, client_id: str) -> None:
        """The stand-in's own count of the current and the previous minute window (they expire soon)."""
        from apiclients.windows import WindowCounter
        from sandbox import limits

        minute, _ = limits.windows()
        counter = WindowCounter(self.client, f"{limits.KEY_PREFIX}:{client_id}")
        index = minute.index(time.time())
        for at in (index - 1, index):
            count = int(self.client.get(counter.key(minute, at)) or 0)
            if count:
                self.per_window[at] = max(self.per_window.get(at, 0), count)


def window_usage(per_window: dict[int, int], floor: Floor) -> dict[str, int]:
    """How the minute windows from the first request to the last were used.

    ``short``: windows holding fewer than the app's L requests although
    their hour still had room (``idle``: none at all); ``unused``: the
    requests those left unused.
    """
    if not per_window:
        return {"windows": 0, "full": 0, "short": 0, "idle": 0, "unused": 0}
    first, last = min(per_window), max(per_window)
    per_hour = round(floor.hour_seconds / floor.minute_seconds)
    in_hour: dict[int, int] = {}
    full = short = idle = unused = 0
    for index in range(first, last + 1):
        count = per_window.get(index, 0)
        hour = index // per_hour
        room = floor.hour_limit - in_hour.get(hour, 0)
        in_hour[hour] = in_hour.get(hour, 0) + count
        if count >= floor.minute_limit:
            full += 1
        elif room > count:
            short += 1
            idle += count == 0
            unused += min(floor.minute_limit, room) - count
    return {"windows": last - first + 1, "full": full, "short": short, "idle": idle, "unused": unused}


def backfill(
    session: Session,
    members: list[tuple[fixtures.BenchMember, object]],
    *,
    name: str,
    machines: int,
    workers: int,
    timeout: float = 0,
    clock: bool = False,
    restart_at: float = 0,
) -> ScaleResult:
    """Connect ``members`` at once, with the workers running, until all are current (or ``timeout``)."""
    benches = [bench for bench, _ in members]
    weeks = max(bench.weeks for bench in benches)
    necessary = sum(bench.weeks + 1 for bench in benches)
    planned = from_settings(necessary)
    timeout = timeout or max(180.0, 3 * planned.seconds + 120)
    session.clean_slate()
    work_dir = session.work_dir / name
    work_dir.mkdir(parents=True, exist_ok=True)
    with Workers(session.env, work_dir, machines=machines, concurrency=workers, clock=clock) as running:
        wait_for_window_start(planned)
        reset_counts(session.redis)
        stand_in = cpu_seconds([session.server_process.pid]) if session.server_process else 0.0
        app = running.cpu_seconds()
        progress = watch(members, running, timeout, restart_at)
        progress.cpu = {
            "stand-ins": (cpu_seconds([session.server_process.pid]) if session.server_process else 0.0)
            - stand_in,
            "workers": running.cpu_seconds() - app,
        }
        counts = read_counts(session.redis)
    return figures(
        benches,
        counts,
        running,
        progress,
        machines=machines,
        workers=workers,
        weeks=weeks,
        necessary=necessary,
        scale=session.scale,
        clock=clock,
    )


def watch(
    members: list[tuple[fixtures.BenchMember, object]], workers: Workers, timeout: float, restart_at: float
) -> Progress:
    """Queue everyone, then note when each member is current; the workers are stopped afterwards."""
    from core.models import MovesMember

    queued_at = fixtures.connect_all(members)
    progress = Progress(queued_at=queued_at, done={}, completed=False, waited=0.0)
    everyone = {bench.project_member_id for bench, _ in members}
    deadline = time.monotonic() + timeout
    floor = from_settings(1)
    stall = Stall(
        client=workers.redis,
        window=floor.minute_seconds,
        hour_seconds=floor.hour_seconds,
        hour_limit=floor.hour_limit,
        minute_limit=floor.minute_limit,
        members=everyone,
    )
    while True:
        now = time.time()
        if restart_at and not progress.restarted and now - queued_at >= restart_at:
            workers.kill(1)
            workers.restart(1)
            progress.restarted = f"machine-1 killed (SIGKILL) at {now - queued_at:.1f} s and started again"
        # Current, and nothing more queued: a status of current alone can be passing
        # (a member whose first run got no slot is briefly "current"; see the report).
        current = MovesMember.objects.filter(
            member__oh_id__in=everyone,
            status=MovesMember.Status.CURRENT,
            last_updated__isnull=False,
            sync_wanted_since__isnull=True,
        )
        for oh_id in current.values_list("member__oh_id", flat=True):
            progress.done.setdefault(oh_id, now)
        note_first_files(progress, everyone)
        if len(progress.done) == len(everyone):
            progress.completed = True
            break
        if time.monotonic() > deadline:
            progress.why = f"timed out after {timeout:.0f} s"
            break
        stuck = stall.check(len(progress.done))
        if stuck:
            progress.why = stuck
            break
        time.sleep(POLL_SECONDS)
    progress.waited = time.time() - queued_at
    progress.per_window = stall.per_window
    if progress.completed:
        # Runs still going (none should be) end before the counts are read.
        settle(MovesMember)
    return progress


def note_first_files(progress: Progress, everyone: set[str]) -> None:
    """Note every member's first completed file while it exists: replacing a file deletes the old one."""
    from sandbox.models import SandboxFile

    waiting = everyone - set(progress.first_files)
    if not waiting:
        return
    found = SandboxFile.objects.filter(
        completed_at__isnull=False, member__project_member_id__in=waiting
    ).values_list("member__project_member_id", "completed_at")
    for member_id, completed in found:
        at = completed.timestamp()
        progress.first_files[member_id] = min(at, progress.first_files.get(member_id, at))


def settle(model, timeout: float = 10.0) -> None:
    from django.db.models import Q
    from django.utils import timezone

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = model.objects.filter(Q(sync_wanted_since__isnull=False) | Q(lease_until__gte=timezone.now()))
        if not busy.exists():
            return
        time.sleep(POLL_SECONDS)


def figures(
    benches: list[fixtures.BenchMember],
    counts: dict[str, int],
    running: Workers,
    progress: Progress,
    *,
    machines: int,
    workers: int,
    weeks: int,
    necessary: int,
    scale: float,
    clock: bool,
) -> ScaleResult:
    requests = counts.get("moves_requests", 0)
    floor = from_settings(requests)
    ids = [bench.project_member_id for bench in benches]
    # sandbox.counting names an API call by its path under /api/direct-sharing/project/ ("" is that root).
    api = {
        key.split(":", 1)[1] or "project": value
        for key, value in counts.items()
        if key.startswith("oh_calls:")
    }
    puts, gets = counts.get("oh_puts", 0), counts.get("oh_gets", 0)
    note_first_files(progress, set(ids))
    first_files = progress.first_files
    final_bytes = sum(sum(fixtures.stored_file_sizes(member_id)[-1:]) for member_id in ids)
    runs = running.run_counts()
    memory = running.memory()
    if progress.completed:
        days_checked, problems = verify.check_members(benches)
    else:
        days_checked, problems = (
            0,
            [f"only {len(progress.done)} of {len(benches)} members current ({progress.why})"],
        )
    queued_at = progress.queued_at
    return ScaleResult(
        members=len(benches),
        weeks=weeks,
        machines=machines,
        workers=workers,
        scale=scale,
        requests=requests,
        necessary_requests=necessary,
        floor_seconds=floor.seconds,
        floor_detail=floor.describe(),
        makespan_seconds=(max(progress.done.values()) - queued_at) if progress.completed else progress.waited,
        completed=progress.completed,
        current=len(progress.done),
        runs=runs.runs,
        runs_without_slots=runs.without_requests,
        runs_counted_from="the workers' logs (Celery's 'received' line per message, the task's line per run)",
        oh_calls=sum(api.values()) + puts + gets,
        oh_api_calls=sum(api.values()),
        oh_storage_calls=puts + gets,
        oh_calls_by_endpoint={**api, "storage PUT": puts, "storage GET": gets},
        upload_bytes=counts.get("oh_put_bytes", 0),
        final_bytes=final_bytes,
        oh_downloads=gets,
        download_bytes=counts.get("oh_get_bytes", 0),
        first_file_seconds=Stats.of([first_files[i] - queued_at for i in ids if i in first_files]),
        done_seconds=Stats.of([at - queued_at for at in progress.done.values()]),
        moves_429=counts.get("moves_429", 0),
        peak_rss_mb=memory.peak_process,
        peak_rss_above_idle_mb=memory.peak_child_above_idle,
        peak_machine_rss_mb=memory.peak_machine_total,
        days_checked=days_checked,
        problems=problems,
        run_outcomes=runs.outcomes,
        logged_requests=runs.requests,
        restart=progress.restarted,
        minute_seconds=60 / scale,
        heartbeats=running.heartbeats,
        clock="bench.clock stand-in" if clock else "the workers' own (datauploader.ticker)",
        stopped=progress.why,
        windows=window_usage(progress.per_window, from_settings(1)),
        run_seconds=runs.seconds,
        cpu_seconds=progress.cpu,
        load_average=os.getloadavg()[0],
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cleanup_on_signals()
    work_dir = Path(tempfile.mkdtemp(prefix="moves-bench-scale-"))
    try:
        with Session(work_dir, scale=args.scale, redis_db=args.redis_db, keep=args.keep) as session:
            members = seed_members(args.members, args.weeks)
            result = backfill(
                session,
                members,
                name="scale",
                machines=args.machines,
                workers=args.workers,
                timeout=args.timeout,
                clock=args.clock,
                restart_at=args.restart_at,
            )
    except (Stop, TimeoutError, RuntimeError) as exc:
        print(f"bench.scale failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(render(result))
    if args.json:
        print(json.dumps(result.as_json()))
    return 0 if all(t.met is not False for t in targets(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
