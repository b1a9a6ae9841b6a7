"""Moves notifications against daily polling: ``python -m bench.notifications [--days 7] [--json]``.

A member with a year of Moves history, current, then a week of ordinary
days arriving: each simulated day the stand-in Moves adds one day to the
history (``sandbox.testing.add_day``, as a phone uploading yesterday), which
queues a signed storyline notification for the app. Two ways of keeping the
member current, one after the other on the same member:

- **notifications**: the stand-ins POST the notification (Moves' batching
  and 3-second timeout) to the app's webhook, served by gunicorn on the
  project's own settings; the worker fetches the weeks it names. The daily
  ``update_data`` runs too, as in production (it skips a member kept current
  by notifications).
- **daily polling**: the notifications are dropped (the stand-ins' own
  switch), and ``update_data`` runs once per simulated day; a day has
  passed for it, so every member is stale (UPDATE_STALE_AFTER_HOURS=0 in
  the command's process).

Measured: Moves requests per day kept current, and the delay from the
change in the stand-in to the new file on Open Humans (the first completed
file holding the new day, equal to what Moves serves), median and worst, in
compressed time and scaled back to real time: the whole delay times the
scale (an upper bound), and an estimate that scales only the waiting that
scales (Moves' batching of notifications) and keeps the work itself as
measured. Weekly sweeps (``SWEEP_INTERVAL_DAYS``) cost the same either way
and are not part of it.
"""

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from bench import fixtures, verify
from bench.counting import read_counts
from bench.env import app_env
from bench.processes import Stop, cleanup_on_signals, stop_group, wait_for
from bench.scale import Session, backfill, settle
from bench.server import free_port, wait_until_up
from bench.workers import Workers

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE = "moves_bench_notify"
WEBHOOK_PATH = "/webhooks/moves/storyline/"
POLL_SECONDS = 0.05
# Seconds (compressed) a change may take to reach Open Humans before the day is given up.
DAY_TIMEOUT_SECONDS = 120.0


@dataclass
class Arm:
    name: str
    requests: list[int] = field(default_factory=list)
    # Change to file, change to the notification's delivery, both in compressed seconds.
    delays: list[float] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)
    missed_days: int = 0

    @property
    def per_day(self) -> float:
        return sum(self.requests) / len(self.requests) if self.requests else float("nan")

    def delay(self, kind: str) -> float:
        if not self.delays:
            return float("nan")
        return statistics.median(self.delays) if kind == "median" else max(self.delays)


@dataclass
class NotificationResult:
    scale: float
    days: int
    history_weeks: int
    notifications: Arm
    polling: Arm
    # What is wrong with the file after the notifications' week (nothing, when all is well).
    problems: list[str]
    # Days of the file that differ from Moves after the polling week: changes outside the two
    # weeks an update fetches (the weekly sweep's business), shown for comparison.
    missed_by_polling: list[str] = field(default_factory=list)

    def real_time(self, arm: Arm) -> dict[str, float]:
        """The delays scaled back: all of it times the scale, and the batching alone scaled."""
        if not arm.delays:
            return {}
        whole = [d * self.scale for d in arm.delays]
        if arm.delivered:
            estimate = [w * self.scale + (d - w) for d, w in zip(arm.delays, arm.delivered, strict=True)]
        else:
            estimate = whole
        return {
            "median_scaled": statistics.median(whole),
            "worst_scaled": max(whole),
            "median_estimate": statistics.median(estimate),
            "worst_estimate": max(estimate),
        }

    def missed(self) -> list[str]:
        out = []
        if not self.notifications.per_day < self.polling.per_day:
            out.append(
                f"{self.notifications.per_day:.2f} Moves requests per day with notifications, "
                f"not fewer than daily polling's {self.polling.per_day:.2f}"
            )
        real = self.real_time(self.notifications)
        if not real:
            out.append("no change reached Open Humans through a notification")
        elif real["worst_scaled"] >= 60:
            out.append(
                f"change to file {real['worst_scaled']:.0f} s at real time at worst (scaled back), "
                "not under a minute"
            )
        for arm in (self.notifications, self.polling):
            if arm.missed_days:
                out.append(f"{arm.name}: {arm.missed_days} days never reached Open Humans")
        out += self.problems
        return out

    def as_json(self) -> dict:
        data = asdict(self)
        for arm in ("notifications", "polling"):
            found = getattr(self, arm)
            data[arm].update(
                {
                    "requests_per_day": found.per_day,
                    "delay_median": found.delay("median"),
                    "delay_worst": found.delay("worst"),
                    "real_time": self.real_time(found),
                }
            )
        data["missed"] = self.missed()
        return data


def render(result: NotificationResult) -> str:
    n, p = result.notifications, result.polling
    real = result.real_time(n)
    poll_run = result.real_time(p)
    lines = [
        f"Keeping a member with a year of history ({result.history_weeks} weeks) current over {result.days} "
        f"ordinary days, time scale {result.scale:g}",
        "",
        f"  Moves requests per day: notifications {n.per_day:.2f} (per day: {n.requests}), "
        f"daily polling {p.per_day:.2f} (per day: {p.requests})",
        "  change in Moves to new file on Open Humans, with notifications: "
        f"median {n.delay('median'):.2f} s, worst {n.delay('worst'):.2f} s compressed",
    ]
    if real:
        lines.append(
            f"    scaled back to real time: median {real['median_scaled']:.0f} s, "
            f"worst {real['worst_scaled']:.0f} s (the whole delay x {result.scale:g}); "
            "estimate scaling only Moves' batching: "
            f"median {real['median_estimate']:.0f} s, worst {real['worst_estimate']:.0f} s"
        )
        lines.append(
            f"    of which Moves' batching (change to delivered notification): median "
            f"{statistics.median(n.delivered):.2f} s compressed"
            if n.delivered
            else "    (no delivery times)"
        )
    if poll_run:
        lines.append(
            f"  daily polling: the change waits for the next daily run (0 to 24 h: median 12 h, worst 24 h "
            f"at real time); that run then takes median {p.delay('median'):.2f} s, worst "
            f"{p.delay('worst'):.2f} s compressed"
        )
    lines.append(
        "  the file against Moves, day by day: after the notifications' week "
        + ("every day equal" if not result.problems else f"{len(result.problems)} problems")
        + "; after the polling week "
        + (
            "every day equal"
            if not result.missed_by_polling
            else "changes outside the two weeks an update fetches missed "
            f"({result.missed_by_polling[0]}, ...)"
        )
    )
    for problem in result.problems:
        lines.append(f"  problem: {problem}")
    missed = result.missed()
    lines.append("")
    lines.append("Targets (issue 15): " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return "\n".join(lines)


# --- The run ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notifications", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--scale", type=float, default=20.0, help="RATE_LIMIT_TIME_SCALE (20: 60 requests per 3 s)"
    )
    parser.add_argument("--days", type=int, default=7, help="ordinary days arriving, for each way")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis database to flush and use")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument(
        "--clock", action="store_true", help="run bench.clock beside the worker (see bench.clock)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory, logs and database")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 7:
        parser.error("--days must be 1 to 7 (the history ends 8 days before today)")
    return args


class WebServer:
    """The app's web side (gunicorn on the project's settings), for the stand-ins' POSTs."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env, self.port, self.log_path = env, port, log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "WebServer":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "demotemplate.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=app_env(self.env, LOG_LEVEL="INFO"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # The webhook answers a GET at once (405), without touching the database.
            wait_until_up(f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}", self.process, self.log_path)
        except BaseException:
            stop_group(self.process, grace=10)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            stop_group(self.process, grace=10)


def run(args: argparse.Namespace, work_dir: Path) -> NotificationResult:
    web_port = free_port()
    with Session(
        work_dir,
        scale=args.scale,
        redis_db=args.redis_db,
        database=DATABASE,
        keep=args.keep,
        notification_url=f"http://127.0.0.1:{web_port}{WEBHOOK_PATH}",
    ) as session:
        with WebServer(session.env, web_port, work_dir / "web.log"):
            bench, member = seed_member(args.days)
            weeks = bench.weeks
            result = backfill(
                session, [(bench, member)], name="backfill", machines=1, workers=2, clock=args.clock
            )
            if not result.completed:
                raise RuntimeError(f"the member's backfill did not finish ({result.stopped})")
            warm_up(web_port)
            with Workers(session.env, work_dir / "days", machines=1, concurrency=2, clock=args.clock):
                notified = keep_current(session, bench, args.days, "notifications", notify=True)
                # Every day of the file, as Moves serves it now.
                _, problems = verify.check_member(bench)
                polled = keep_current(session, bench, args.days, "daily polling", notify=False)
                _, missed_by_polling = verify.check_member(bench)
    return NotificationResult(
        scale=args.scale,
        days=args.days,
        history_weeks=weeks,
        notifications=notified,
        polling=polled,
        problems=problems,
        missed_by_polling=missed_by_polling,
    )


def warm_up(port: int) -> None:
    """One refused notification, so the first real one does not pay for the web workers' first request."""
    import requests

    for _ in range(4):
        requests.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", data=b"{}", timeout=10)


def seed_member(days: int):
    """A member whose finished history (a year) ends 2 x ``days`` + 1 days before today.

    Each way of keeping current adds ``days`` days, each up to the user's
    today at most.
    """
    from sandbox import testing
    from sandbox.synthetic import local_today

    zone = "Europe/Berlin"
    today = local_today(zone)
    last = today - timedelta(days=2 * days + 1)
    first = fixtures.years_ago(last, 1)
    user = testing.create_moves_user(
        "bench-notified", first_date=first, days=(last - first).days + 1, time_zone=zone
    )
    bench = fixtures.sandbox_member("bench-notified", first, shared_user="bench-notified")
    assert bench.moves_user_pk == user.pk
    return bench, fixtures.signed_in(bench)


def keep_current(session: Session, bench: fixtures.BenchMember, days: int, name: str, *, notify: bool) -> Arm:
    from django.core.management import call_command
    from django.test import override_settings

    from core.models import MovesMember
    from sandbox import testing
    from sandbox.models import SandboxMovesUser, Switches

    arm = Arm(name)
    user = SandboxMovesUser.objects.get(pk=bench.moves_user_pk)
    # Notifications off: the stand-in drops every one (as if the network ate them).
    Switches.get()
    Switches.objects.filter(pk=1).update(drop_notifications=0 if notify else 10**6)
    for _ in range(days):
        before = read_counts(session.redis).get("moves_requests", 0)
        changed_at = time.time()
        testing.add_day(user)
        user.refresh_from_db()
        day = user.last_date
        if notify:
            delivered = wait_for_delivery(changed_at)
            if delivered is not None:
                arm.delivered.append(delivered - changed_at)
            started = changed_at
        else:
            started = time.time()
            with override_settings(UPDATE_STALE_AFTER_HOURS=0):
                call_command("update_data", verbosity=0, stdout=io.StringIO())
        found = wait_for_day_on_open_humans(bench, user, day, changed_at)
        if found is None:
            arm.missed_days += 1
        else:
            arm.delays.append(found - started)
        settle(MovesMember, timeout=30)
        if notify:
            # The daily safety net runs as in production; it skips a member kept current.
            call_command("update_data", verbosity=0, stdout=io.StringIO())
            settle(MovesMember, timeout=30)
        arm.requests.append(read_counts(session.redis).get("moves_requests", 0) - before)
    return arm


def wait_for_delivery(since: float, timeout: float = 30.0) -> float | None:
    """When the stand-in's notification of a change made at ``since`` was answered 200."""
    from datetime import UTC, datetime

    from sandbox.models import Delivery

    after = datetime.fromtimestamp(since, tz=UTC)
    found: list[float] = []

    def delivered() -> bool:
        row = (
            Delivery.objects.filter(kind=Delivery.Kind.MOVES_NOTIFICATION, created__gte=after)
            .order_by("id")
            .first()
        )
        if row is not None:
            if row.status != 200:
                raise RuntimeError(f"the notification was not accepted: {row.status} {row.outcome}")
            found.append(row.created.timestamp())
        return bool(found)

    try:
        wait_for(delivered, timeout, "the notification's delivery", interval=POLL_SECONDS)
    except TimeoutError:
        return None
    return found[0]


def wait_for_day_on_open_humans(bench: fixtures.BenchMember, user, day, since: float) -> float | None:
    """When the first file completed after ``since`` holding ``day`` as Moves serves it was complete."""
    from datetime import UTC, datetime

    from sandbox import accounts, testing
    from sandbox.models import SandboxFile

    wanted = f"{day:%Y%m%d}"
    served = testing.storyline_days(user, day, day)[0]
    checked: set[int] = set()
    after = datetime.fromtimestamp(since, tz=UTC)
    deadline = time.monotonic() + DAY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        files = SandboxFile.objects.filter(
            member__project_member_id=bench.project_member_id,
            source=accounts.SOURCE,
            completed_at__gte=after,
        ).order_by("id")
        for file in files:
            if file.id in checked:
                continue
            checked.add(file.id)
            try:
                days = json.loads(testing.read_file_bytes(file))
            except (OSError, ValueError):
                # Deleted meanwhile (replaced by a newer one): the newer one is looked at next.
                continue
            if any(held.get("date") == wanted and held == served for held in days):
                return file.completed_at.timestamp()
        time.sleep(POLL_SECONDS)
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cleanup_on_signals()
    work_dir = Path(tempfile.mkdtemp(prefix="moves-bench-notify-"))
    try:
        result = run(args, work_dir)
    except (Stop, TimeoutError, RuntimeError) as exc:
        print(f"bench.notifications failed: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "missed": [f"did not run to the end: {exc}"]}))
        return 2
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(render(result))
    if args.json:
        print(json.dumps(result.as_json()))
    return 1 if result.missed() else 0


if __name__ == "__main__":
    sys.exit(main())
