"""Benchmark entry point (``make bench``): ``python -m bench.run [--years 1,3,5] [--quick] ...``.

On a PostgreSQL database and Redis databases of its own, with the stand-ins
served by ``manage.py run_sandbox``:

1. one member's backfill for every history length, ours (``bench.ours``: a
   real prefork worker) beside the original whole-file design
   (``bench.seed_baseline``) on the same Moves user;
2. many members connecting at once (``bench.scale``): 40 members with 53
   weeks each, on one and on two worker machines of 4 processes;
3. ``update_data`` over 100,000 stale members (``bench.members``);
4. Moves notifications against daily polling (``bench.notifications``).

Prints every table and exits non-zero when a target is missed. Every
process it starts is stopped on the way out; each run is bounded in time.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.databases import fresh_database, migrate
from bench.floor import from_settings
from bench.processes import Stop, cleanup_on_signals
from bench.scale import ScaleResult, Session, backfill, seed_members, targets
from bench.scale import render as render_scale

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_SERVER = "redis://127.0.0.1:6379"
CHILD_TIMEOUT_SECONDS = 1800


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", default="1,3,5", help="history lengths in years, comma separated")
    parser.add_argument(
        "--scale",
        type=float,
        default=20.0,
        help="RATE_LIMIT_TIME_SCALE for app and stand-ins alike (20: 60 requests per 3 s)",
    )
    parser.add_argument("--members", type=int, default=100_000, help="members for the update_data timing")
    parser.add_argument("--scale-members", type=int, default=40, help="members connecting at once")
    parser.add_argument("--scale-weeks", type=int, default=53, help="weeks of history of each of them")
    parser.add_argument("--machines", default="1,2", help="worker machines of the many-member runs")
    parser.add_argument("--workers", type=int, default=4, help="prefork processes per machine")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 year, 10 x 10, 10,000 members")
    parser.add_argument(
        "--redis-db",
        type=int,
        default=12,
        help="first of four Redis databases it flushes and uses (app, original, broker, notifications)",
    )
    parser.add_argument("--skip-seed", action="store_true", help="measure ours only")
    parser.add_argument("--skip-scale", action="store_true", help="no many-member runs")
    parser.add_argument("--skip-update-data", action="store_true", help="no update_data timing")
    parser.add_argument("--skip-notifications", action="store_true", help="no notifications run")
    parser.add_argument(
        "--clock", action="store_true", help="run bench.clock beside each worker machine (see bench.clock)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory, logs and databases")
    args = parser.parse_args(argv)
    if args.quick:
        args.years, args.members, args.scale_members, args.scale_weeks = "1", 10_000, 10, 10
    args.year_list = [int(y) for y in args.years.split(",") if y.strip()]
    args.machine_list = [int(n) for n in args.machines.split(",") if n.strip()]
    return args


def run_child(module: str, arguments: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run ``python -m module`` in a process group of its own; the JSON of its last output line.

    Stopped (the whole group) when it outlives ``timeout``.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", module, *arguments],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        from bench.processes import kill_group

        kill_group(process)
        raise RuntimeError(f"{module} did not finish within {timeout:.0f} s") from None
    finally:
        if process.poll() is None:
            from bench.processes import stop_group

            stop_group(process, grace=30)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} failed with status {process.returncode}:\n{stderr[-4000:]}")
    result = json.loads(lines[-1])
    result["_stdout"] = stdout
    return result


class Bench:
    def __init__(self, args: argparse.Namespace, session: Session) -> None:
        self.args = args
        self.session = session
        self.seed_redis_url = f"{REDIS_SERVER}/{args.redis_db + 1}"
        self.broker_redis_url = f"{REDIS_SERVER}/{args.redis_db + 2}"

    def ours(self, years: int) -> tuple[int, report.BackfillRun]:
        from bench.ours import backfill_one

        result = backfill_one(self.session, years, clock=self.args.clock)
        return result.weeks, run_of(result)

    def seed(self, years: int) -> tuple[int, report.BackfillRun]:
        import redis

        from bench import fixtures
        from bench.counting import read_counts
        from bench.ours import first_date, shared_user

        member = fixtures.sandbox_member(
            f"bench-seed-{years}y", first_date(years), shared_user=shared_user(years)
        )
        self.session.clean_slate()
        redis.Redis.from_url(self.seed_redis_url).flushdb()
        arguments = [
            "--moves-token",
            member.moves_access,
            "--oh-token",
            member.oh_access,
            "--project-member-id",
            member.project_member_id,
            "--scale",
            f"{self.args.scale:g}",
            "--respectful-redis",
            self.seed_redis_url,
        ]
        result = run_child("bench.seed_baseline", arguments, self.session.env, CHILD_TIMEOUT_SECONDS)
        counts = read_counts(self.session.redis)
        sizes = fixtures.stored_file_sizes(member.project_member_id)
        return member.weeks, report.BackfillRun(
            wall=result["wall"],
            completed=True,
            requests=counts.get("moves_requests", 0),
            rate_limited=counts.get("moves_429", 0),
            bytes_sent=counts.get("oh_put_bytes", 0),
            bytes_downloaded=counts.get("oh_get_bytes", 0),
            rss_above_idle=max(0, result["peak_rss"] - result["idle_rss"]),
            final_size=sizes[-1] if sizes else 0,
            runs=result.get("runs", 0),
        )

    def many(self, machines: int) -> ScaleResult:
        members = seed_members(self.args.scale_members, self.args.scale_weeks, prefix=f"bench-{machines}m")
        return backfill(
            self.session,
            members,
            name=f"scale-{machines}m",
            machines=machines,
            workers=self.args.workers,
            clock=self.args.clock,
        )

    def update_data(self) -> report.UpdateDataRow:
        database_url, engine = fresh_database("moves_bench_members", self.session.work_dir)
        env = {**self.session.env, "DATABASE_URL": database_url, "REDIS_URL": self.broker_redis_url}
        migrate(env)
        try:
            result = run_child(
                "bench.members", ["--members", str(self.args.members)], env, CHILD_TIMEOUT_SECONDS
            )
        except RuntimeError as exc:
            return report.UpdateDataRow(
                self.args.members, engine, None, None, None, None, None, 0, 0, str(exc)
            )
        return report.UpdateDataRow(
            members=self.args.members,
            engine=engine,
            command=result.get("command"),
            queued_members=result.get("queued_members"),
            dispatch=result.get("dispatch"),
            dispatch_sent=result.get("dispatch_sent"),
            dispatch_requests=result.get("dispatch_requests"),
            seed=result["seed"],
            seed_queued=result["seed_queued"],
            error=result.get("error", ""),
            dispatch_skipped=result.get("dispatch_skipped", ""),
        )

    def notifications(self) -> dict:
        arguments = ["--scale", f"{self.args.scale:g}", "--redis-db", str(self.args.redis_db + 3), "--json"]
        if self.args.clock:
            arguments.append("--clock")
        return run_child("bench.notifications", arguments, self.session.env, CHILD_TIMEOUT_SECONDS)


def run_of(result: ScaleResult) -> report.BackfillRun:
    return report.BackfillRun(
        wall=result.makespan_seconds,
        completed=result.completed,
        requests=result.requests,
        rate_limited=result.moves_429,
        bytes_sent=result.upload_bytes,
        bytes_downloaded=result.download_bytes,
        rss_above_idle=int(result.peak_rss_above_idle_mb * report.MB),
        final_size=result.final_bytes,
        runs=result.runs,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cleanup_on_signals()
    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="moves-bench-"))
    rows: list[report.BackfillRow] = []
    many: list[ScaleResult] = []
    notes: list[str] = []
    update = None
    notified: dict | None = None
    try:
        with Session(
            work_dir, scale=args.scale, redis_db=args.redis_db, database="moves_bench_sync", keep=args.keep
        ) as session:
            bench = Bench(args, session)
            for years in args.year_list:
                weeks, ours = bench.ours(years)
                seed = None
                if not args.skip_seed:
                    seed_weeks, seed = bench.seed(years)
                    weeks = max(weeks, seed_weeks)
                rows.append(report.BackfillRow(years, weeks, from_settings(weeks + 1), ours, seed))
                print(f"... {years} y done after {time.monotonic() - started:.0f} s", file=sys.stderr)
            if not args.skip_scale:
                for machines in args.machine_list:
                    many.append(bench.many(machines))
                    print(
                        f"... {args.scale_members} x {args.scale_weeks} on {machines} machine(s) done after "
                        f"{time.monotonic() - started:.0f} s",
                        file=sys.stderr,
                    )
            if not args.skip_update_data:
                update = bench.update_data()
            if not args.skip_notifications:
                try:
                    notified = bench.notifications()
                except RuntimeError as exc:
                    notes.append(f"notifications: {exc}")
    except Stop as exc:
        print(f"bench.run stopped: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    from bench.ours import SCHEDULER

    print(report.render(rows, scale=args.scale, scheduler=SCHEDULER))
    for row in rows:
        for name, run in (("ours", row.ours), ("original", row.seed)):
            if run is not None:
                print(
                    f"{row.years} y: {name} final file {run.final_size / report.MB:.1f} MB, "
                    f"{run.bytes_downloaded / report.MB:.1f} MB downloaded from Open Humans, "
                    f"{run.runs} task runs"
                )
    missed = report.missed_targets(rows, update, report.Targets())
    for result in many:
        print()
        print(render_scale(result))
        missed += [
            f"{result.members} x {result.weeks} on {result.machines} machine(s): {t.name} {t.value} "
            f"(target {t.goal})"
            for t in targets(result)
            if t.met is False
        ]
        print(json.dumps(result.as_json()))
    if update is not None:
        print()
        print(report.render_update_data(update))
    if notified is not None:
        print()
        print(notified.pop("_stdout", "").rstrip())
        missed += [f"notifications: {line}" for line in notified.get("missed", [])]
    for note in notes:
        print(f"note: {note}")
    print(f"total benchmark time {time.monotonic() - started:.0f} s")
    if missed:
        print("TARGETS MISSED:")
        for line in missed:
            print(f"  - {line}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
