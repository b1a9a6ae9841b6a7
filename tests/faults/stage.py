"""The world of one fault test: the stand-ins, real worker machines, private Redis servers, our database.

Processes, as in production but for the three base URLs (the benchmark's
harness, ``bench.server`` and ``bench.workers``, starts them):

- the stand-ins (``run_sandbox``), which count what reaches them
  (``bench.counting``) and Moves' requests against its limits in a Redis
  server of their own, so those counts outlive anything done to ours;
- worker machines (``celery -A datauploader worker --pool prefork``), each
  with its own WORKER_NAME and DATA_WORK_DIR, on a Redis server of the
  app's own (broker, quota and cache), which a test may kill; each worker's
  own clock (``datauploader.ticker``) says its machine is alive and hands
  out the quota at the top of every server minute.

Our database is pytest-django's test database, which must be PostgreSQL;
the test process reads and seeds both sides of it (the app's tables and the
stand-ins'), and the processes are stopped before the test's tables are
emptied.

Time is compressed (RATE_LIMIT_TIME_SCALE): a Moves minute lasts
``MINUTE`` seconds, and every time of the sync shrinks with it (the lease,
the retry backoff, the upload interval, a machine taken for gone).
"""

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from bench import fixtures, verify
from bench.counting import read_counts
from bench.env import bench_environment
from bench.processes import group_pids
from bench.server import free_port, sandbox_server
from bench.workers import Workers
from tests.faults.servers import CuttableProxy, RedisServer, wait_for

TIME_SCALE = 30
MINUTE = 60 / TIME_SCALE
HOUR = 3600 / TIME_SCALE
# The stand-in Moves' limits; ours are one less (RATE_LIMIT_SAFETY_THRESHOLD), so a
# member of a few dozen weeks needs several minute windows.
PER_MINUTE = 10
PER_HOUR = 2000
# The lease of a run (extended every third of it while the run lives).
LEASE = 3.0
# Weeks of history of a member whose backfill a fault interrupts: four minute windows.
WEEKS = 26
# A fresh backfill of WEEKS weeks ends well within this.
BACKFILL_SECONDS = 60.0
POLL = 0.05


@dataclass
class Person:
    """Someone with a Moves history at the stand-in, signed in with us and connected."""

    bench: fixtures.BenchMember

    @property
    def oh_id(self) -> str:
        return self.bench.project_member_id

    def row(self):
        from core.models import MovesMember

        return MovesMember.objects.get(member__oh_id=self.oh_id)

    def files(self, include_incomplete: bool = False) -> list:
        """The member's files of our project on the stand-in Open Humans, oldest first."""
        from sandbox import testing
        from sandbox.models import SandboxOHMember

        member = SandboxOHMember.objects.get(project_member_id=self.oh_id)
        return testing.stored_files(member, include_incomplete=include_incomplete)

    def problems(self) -> list[str]:
        """What is wrong with the member's data on Open Humans, day by day against the stand-in Moves."""
        _, problems = verify.check_member(self.bench)
        return problems

    def card(self, row=None):
        """The dashboard's *Now* card for the member (``main.dashboard``): what they are told."""
        from main.dashboard import now_card

        row = row or self.row()
        return now_card(row.member, row, False)

    def is_current(self) -> bool:
        row = self.row()
        return (
            row.status == row.Status.CURRENT
            and row.last_updated is not None
            and row.sync_wanted_since is None
            and not row.is_running
        )


@dataclass(frozen=True)
class Trouble:
    """A member's row and *Now* card while their runs fail."""

    row: object
    card: object

    def next_try_in(self) -> float:
        """Seconds from the failure to the next try the member is shown."""
        assert self.card.when is not None, f"no next try shown: {self.card}"
        return (self.card.when - self.row.last_error_at).total_seconds()


@dataclass
class Fault:
    """A switch set at the stand-ins (``sandbox.faults``)."""

    row: object

    def taken(self) -> bool:
        """Whether every call it was set for has reached the stand-in."""
        from sandbox.models import Fault as FaultRow

        return not FaultRow.objects.filter(pk=self.row.pk, remaining__gt=0).exists()

    def calls(self) -> int:
        """How many calls it has answered so far."""
        from sandbox.models import Fault as FaultRow

        return self.row.remaining - FaultRow.objects.get(pk=self.row.pk).remaining


class Stage:
    """Servers, stand-ins and worker machines of one test, all stopped by ``close`` whatever happened."""

    def __init__(
        self,
        work_dir: Path,
        *,
        scale: float = TIME_SCALE,
        per_minute: int = PER_MINUTE,
        per_hour: int = PER_HOUR,
    ) -> None:
        self.work_dir = work_dir
        self.scale, self.per_minute, self.per_hour = scale, per_minute, per_hour
        self.minute, self.hour = 60 / scale, 3600 / scale
        self.cleanup = contextlib.ExitStack()
        self.app_redis = RedisServer(work_dir / "app-redis")
        self.moves_redis = RedisServer(work_dir / "moves-redis")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = tests_database_url()
        self.env: dict[str, str] = {}
        self.workers: Workers | None = None
        self._names = iter(range(1, 1000))
        self._app_client: redis.Redis | None = None

    # --- Lifecycle ----------------------------------------------------------------

    def start(self) -> "Stage":
        try:
            self.app_redis.start()
            self.cleanup.callback(self.app_redis.kill)
            self.moves_redis.start()
            self.cleanup.callback(self.moves_redis.kill)
            self.env = self._environment()
            self.cleanup.enter_context(
                sandbox_server(
                    self.port,
                    {**self.env, "REDIS_URL": self.moves_redis.url},
                    self.work_dir / "sandbox.log",
                )
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self.cleanup.close()

    def _environment(self) -> dict[str, str]:
        env = bench_environment(
            base_url=self.url,
            scale=self.scale,
            redis_url=self.app_redis.url,
            database_url=self.database_url,
            work_dir=self.work_dir,
        )
        env.update(
            {
                # The test process writes tokens and reads the stand-ins as itself.
                "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
                "OH_CLIENT_ID": settings.OH_CLIENT_ID,
                "OH_CLIENT_SECRET": settings.OH_CLIENT_SECRET,
                "MOVES_CLIENT_ID": settings.MOVES_CLIENT_ID,
                "MOVES_CLIENT_SECRET": settings.MOVES_CLIENT_SECRET,
                "MOVES_REQUESTS_PER_MINUTE": str(self.per_minute),
                "MOVES_REQUESTS_PER_HOUR": str(self.per_hour),
                "SANDBOX_MOVES_REQUESTS_PER_MINUTE": str(self.per_minute),
                "SANDBOX_MOVES_REQUESTS_PER_HOUR": str(self.per_hour),
                "RUN_LEASE_SECONDS": str(LEASE),
                # Production's: kept connections, checked before each task.
                "DATABASE_CONN_MAX_AGE": "60",
                "HTTP_READ_TIMEOUT": "20",
            }
        )
        return env

    def database_proxy(self) -> CuttableProxy:
        """A proxy in front of PostgreSQL, for the app's processes (start them with ``database_url_via``)."""
        proxy = CuttableProxy()
        proxy.start()
        self.cleanup.callback(proxy.close)
        return proxy

    def database_url_via(self, proxy: CuttableProxy) -> str:
        url = urlsplit(self.database_url)
        credentials = url.netloc.rsplit("@", 1)[0]
        return urlunsplit(url._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}"))

    def disk(self, size: str, machine: int = 1) -> "Disk":
        """A tmpfs of ``size`` (e.g. "2m") as the DATA_WORK_DIR of ``machine``; skips the test if refused."""
        # Where bench.workers puts each machine's DATA_WORK_DIR.
        disk = Disk(self.work_dir / f"machine-{machine}")
        disk.mount(size)
        self.cleanup.callback(disk.unmount)
        return disk

    def start_workers(self, machines: int = 1, **overrides: str) -> Workers:
        """Start ``machines`` worker machines of one prefork process each; returns once each one ticked."""
        assert self.workers is None, "one set of worker machines per test"
        workers = Workers(self.env, self.work_dir, machines=machines, concurrency=1, **overrides)
        # The test is over by then: no need to wait for a warm shutdown.
        self.cleanup.callback(workers.stop, 0.5)
        workers.__enter__()
        self.workers = workers
        assert workers.heartbeats, (
            f"a worker's clock did not tick within two minute windows\n{self.diagnosis()}"
        )
        return workers

    # --- The stand-ins ------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """What reached the stand-ins (``sandbox.counting``), from their own Redis."""
        client = self.moves_redis.client()
        try:
            return read_counts(client)
        finally:
            client.close()

    def moves_used(self, at: float | None = None) -> tuple[int, int]:
        """Requests the stand-in Moves counted in its minute and hour windows at ``at`` (now)."""
        from apiclients.windows import Window, WindowCounter
        from sandbox import limits

        client = self.moves_redis.client()
        try:
            counter = WindowCounter(client, f"{limits.KEY_PREFIX}:{settings.MOVES_CLIENT_ID}")
            windows = [
                Window("minute", self.minute, self.per_minute),
                Window("hour", self.hour, self.per_hour),
            ]
            minute, hour = counter.used(windows, time.time() if at is None else at)
            return minute, hour
        finally:
            client.close()

    def fault(self, endpoint: str, **switches) -> "Fault":
        from sandbox import testing

        return Fault(testing.add_fault(endpoint, **switches))

    # --- People ---------------------------------------------------------------------------

    def connect(self, weeks: int = WEEKS) -> Person:
        """Someone with ``weeks`` ISO weeks of Moves history connects Moves, as the OAuth callback does.

        The connection is stored and queued; the next tick of a worker's clock
        hands out their first batch.
        """
        from apiclients.oauth import TokenGrant
        from core.models import MovesMember
        from sandbox.moves_views import TOKEN_EXPIRES_IN
        from sandbox.synthetic import local_today

        first = fixtures.first_date_for_weeks(local_today("Europe/Berlin"), weeks)
        bench = fixtures.sandbox_member(f"faults-{next(self._names)}", first)
        oh_member = fixtures.signed_in(bench)
        MovesMember.connect(
            oh_member, TokenGrant(bench.moves_access, bench.moves_refresh, TOKEN_EXPIRES_IN, bench.moves_id)
        )
        return Person(bench)

    # --- Waiting and reading the worker machines --------------------------------------------

    def wait(self, condition: Callable[[], object], seconds: float, what: str) -> float:
        """Wait for ``condition``; returns the seconds it took, or fails showing the state of things."""
        started = time.monotonic()
        if not wait_for(condition, seconds, POLL):
            raise AssertionError(f"{what}: not within {seconds:.0f} s\n{self.diagnosis()}")
        return time.monotonic() - started

    def wait_current(self, person: Person, seconds: float = BACKFILL_SECONDS) -> float:
        return self.wait(person.is_current, seconds, f"member {person.oh_id} current")

    def wait_failures(self, person: Person, failures: int, seconds: float = BACKFILL_SECONDS) -> Trouble:
        """The member as the dashboard shows them once ``failures`` attempts in a row have failed."""
        seen: list = []

        def failed() -> bool:
            row = person.row()
            if row.failures >= failures:
                seen.append(row)
                return True
            return False

        self.wait(failed, seconds, f"{failures} failures of member {person.oh_id}")
        row = seen[-1]
        return Trouble(row, person.card(row))

    def diagnosis(self) -> str:
        """The members' states, the stand-ins' counts, and the end of every worker's log."""
        from core.models import MovesMember
        from sandbox.models import SandboxFile

        lines = [
            f"member {row.member.oh_id}: {row.status}, error {row.error_service!r}: {row.last_error!r}, "
            f"failures {row.failures}, not before {row.not_before}, lease until {row.lease_until}, "
            f"queued since {row.sync_wanted_since}, home {row.worker_home!r}, weeks "
            f"{row.weeks_done}/{row.weeks_total}, file {row.file_id}, pending {row.pending_file_id}"
            for row in MovesMember.objects.select_related("member")
        ]
        lines.append(f"stand-ins counted: {self.counts()}")
        lines.append(
            "files at the stand-in Open Humans (id, member, completed): "
            + ", ".join(
                f"{file.pk} {file.member.project_member_id} {file.completed_at is not None}"
                for file in SandboxFile.objects.select_related("member").order_by("pk")
            )
        )
        for machine in self.workers.machines if self.workers else []:
            tail = machine.log_text().splitlines()[-25:]
            lines += [f"--- {machine.name} ---", *tail]
        return "\n".join(lines)

    def log(self, number: int = 1) -> str:
        assert self.workers is not None
        return self.workers.machines[number - 1].log_text()

    def pool_pids(self, number: int = 1) -> list[int]:
        """The pool processes (not the main process) of machine ``number``."""
        assert self.workers is not None
        machine = self.workers.machines[number - 1]
        assert machine.process is not None
        return [pid for pid in group_pids(machine.process.pid) if pid != machine.process.pid]

    def redis(self) -> redis.Redis:
        """A client of the app's Redis (it reconnects by itself after a restart)."""
        if self._app_client is None:
            self._app_client = self.app_redis.client()
            self.cleanup.callback(self._app_client.close)
        return self._app_client

    def quota(self):
        """The app's Moves quota as its processes see it (in the app's Redis)."""
        from apiclients.quota import MovesQuota

        return MovesQuota(
            self.redis(), per_minute=self.per_minute, per_hour=self.per_hour, time_scale=self.scale
        )

    @contextlib.contextmanager
    def dispatcher_poked(self) -> Iterator[None]:
        """Within the block, queue ``datauploader.dispatch`` once a minute window, as a worker's clock would.

        For a test about something else than the worker's clock, in a state
        where that clock stopped.
        """
        stop = threading.Event()

        def poke() -> None:
            sender = Celery("faults-poke", broker=self.app_redis.url, set_as_current=False)
            try:
                while not stop.wait(self.minute):
                    with contextlib.suppress(Exception):
                        sender.send_task("datauploader.dispatch", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
            finally:
                sender.close()

        thread = threading.Thread(target=poke, name="faults-poke", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)

    # --- The end state ---------------------------------------------------------------------

    def assert_end_state(self, person: Person, *, moves_429: int = 0) -> str:
        """The member's data complete on Open Humans and their state truthful; returns it in words.

        Exactly one file of ours (no incomplete upload left either) holding
        every day Moves serves exactly once, in date order, each as Moves
        serves it; the member current with no error; the stand-in Moves never
        refused a request for the limits (unless the test had it answer 429).
        """
        row = person.row()
        files = person.files(include_incomplete=True)
        problems = person.problems()
        assert problems == [], f"{problems}\n{self.diagnosis()}"
        assert [file.pk for file in files] == [row.file_id], (
            f"files {[f.pk for f in files]}, ours {row.file_id}"
        )
        assert (row.status, row.error_service, row.last_error, row.failures, row.pending_file_id) == (
            row.Status.CURRENT,
            "",
            "",
            0,
            None,
        ), self.diagnosis()
        assert row.sync_wanted_since is None
        assert person.card(row).headline == "Up to date"
        assert self.counts().get("moves_429", 0) == moves_429, self.counts()
        return f"current, one file of {row.days_held} days equal to Moves, 429s: {moves_429}"


class Disk:
    """A tmpfs mounted by the test (which runs as root); full when its size is reached."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mount(self, size: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            why = done.stderr.strip() or f"mount exited with {done.returncode}"
            pytest.skip(f"cannot mount a tmpfs for the worker's disk: {why}")

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True, capture_output=True)

    def unmount(self) -> None:
        # Lazily: a process that outlived its group must not keep the mount.
        subprocess.run(["umount", "--lazy", str(self.path)], capture_output=True)

    def leftovers(self) -> list[str]:
        """Files a run left half-written: temporary files, partial copies, staging folders."""
        copies = ("weeks.import", "weeks.old", "download.json", settings.MOVES_FILE_NAME)
        return sorted(
            str(path.relative_to(self.path))
            for path in self.path.rglob("*")
            if path.name.endswith((".tmp", ".part")) or path.name in copies
        )


def unsent_weeks(person: Person) -> int:
    """Weeks the member's machine fetched that the file on Open Humans does not hold yet (about)."""
    row = person.row()
    if row.file_id is None:
        return 0
    return row.weeks_done - row.days_held // 7


def tests_database_url() -> str:
    """The URL of pytest-django's test database, for the processes the test starts."""
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"
