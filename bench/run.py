"""Benchmark entry point: ``python -m bench.run [--years 1,3,5] [--scale 20] [--members 100000] [--quick]``.

Starts a sandbox server (gunicorn, PostgreSQL or SQLite database of its own,
Redis database of its own), then for every history length backfills one
member with our sync and one with the seed's whole-file design, each in a
child process of its own, and times ``update_data`` over many members.
Prints one table and exits non-zero when a target is missed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench import report
from bench.databases import fresh_database, migrate
from bench.env import bench_environment
from bench.server import free_port, sandbox_server

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_SERVER = "redis://127.0.0.1:6379"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--years", default="1,3,5", help="history lengths in years, comma separated")
    parser.add_argument(
        "--scale",
        type=float,
        default=20.0,
        help="RATE_LIMIT_TIME_SCALE for app and sandbox alike (20: 60 requests per 3 s)",
    )
    parser.add_argument("--members", type=int, default=100_000, help="members for the update_data timing")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 year and 10,000 members")
    parser.add_argument(
        "--redis-db",
        type=int,
        default=12,
        help="first of three Redis databases the benchmark flushes and uses (app, baseline, broker)",
    )
    parser.add_argument("--skip-seed", action="store_true", help="measure ours only")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and server log")
    args = parser.parse_args(argv)
    if args.quick:
        args.years, args.members = "1", 10_000
    args.year_list = [int(y) for y in args.years.split(",") if y.strip()]
    return args


def run_child(module: str, arguments: list[str], env: dict[str, str]) -> dict:
    """Run ``python -m module`` and return the JSON of its last output line."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed with status {completed.returncode}:\n{completed.stderr[-4000:]}")
    return json.loads(lines[-1])


class Bench:
    def __init__(self, args: argparse.Namespace, work_dir: Path) -> None:
        self.args = args
        self.work_dir = work_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app_redis_url = f"{REDIS_SERVER}/{args.redis_db}"
        self.seed_redis_url = f"{REDIS_SERVER}/{args.redis_db + 1}"
        self.broker_redis_url = f"{REDIS_SERVER}/{args.redis_db + 2}"
        self.app_redis = redis.Redis.from_url(self.app_redis_url)
        self.seed_redis = redis.Redis.from_url(self.seed_redis_url)
        self.database_url, self.engine = fresh_database("moves_bench_sync", work_dir)
        self.env = bench_environment(
            base_url=self.base_url,
            scale=args.scale,
            redis_url=self.app_redis_url,
            database_url=self.database_url,
            work_dir=work_dir,
        )

    def setup_django(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()

    def clean_slate(self) -> None:
        """No request of an earlier run may count against the next one."""
        from bench.counting import reset_counts

        self.app_redis.flushdb()
        self.seed_redis.flushdb()
        reset_counts(self.app_redis)

    def measured(self, run, project_member_id: str) -> report.BackfillRun:
        """Figures of ``run()`` (a dict with wall, idle_rss, peak_rss, runs) plus the server's counts."""
        from bench.counting import read_counts
        from bench.fixtures import stored_file_sizes

        self.clean_slate()
        result = run()
        counts = read_counts(self.app_redis)
        sizes = stored_file_sizes(project_member_id)
        return report.BackfillRun(
            wall=result["wall"],
            requests=counts.get("moves_requests", 0),
            rate_limited=counts.get("moves_429", 0),
            bytes_sent=counts.get("oh_put_bytes", 0),
            bytes_downloaded=counts.get("oh_get_bytes", 0),
            idle_rss=result["idle_rss"],
            peak_rss=result["peak_rss"],
            final_size=sizes[-1] if sizes else 0,
            runs=result.get("runs", 0),
        )

    def ours(self, years: int) -> tuple[int, report.BackfillRun | None, str]:
        from bench import fixtures
        from bench.ours import available

        member = fixtures.sandbox_member(f"bench-ours-{years}y", years)
        ready, why = available()
        if not ready:
            return member.weeks, None, why
        from bench.ours import backfill

        fixtures.app_member(member)
        log_path = self.work_dir / f"worker-{years}y.log"
        timeout = max(120.0, 20 * report.floor_seconds(member.weeks, 60, 60 / self.args.scale))
        run = self.measured(
            lambda: backfill(member.project_member_id, self.env, log_path, timeout), member.project_member_id
        )
        return member.weeks, run, ""

    def seed(self, years: int) -> tuple[int, report.BackfillRun]:
        from bench import fixtures

        member = fixtures.sandbox_member(f"bench-seed-{years}y", years)
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
        run = self.measured(
            lambda: run_child("bench.seed_baseline", arguments, self.env), member.project_member_id
        )
        return member.weeks, run

    def update_data(self) -> report.UpdateDataRow:
        database_url, engine = fresh_database("moves_bench_members", self.work_dir)
        env = {**self.env, "DATABASE_URL": database_url, "REDIS_URL": self.broker_redis_url}
        migrate(env)
        result = run_child("bench.members", ["--members", str(self.args.members)], env)
        return report.UpdateDataRow(
            members=self.args.members,
            engine=engine,
            ours=result["ours"],
            ours_queued=result["ours_queued"],
            fan_out=result.get("fan_out"),
            seed=result["seed"],
            seed_queued=result["seed_queued"],
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="moves-bench-"))
    bench = Bench(args, work_dir)
    migrate(bench.env)
    bench.setup_django()
    from bench.ours import SCHEDULER

    window = 60 / args.scale
    per_window = 60
    rows: list[report.BackfillRow] = []
    notes: list[str] = []
    log_path = work_dir / "sandbox-server.log"
    try:
        with sandbox_server(bench.port, bench.env, log_path):
            for years in args.year_list:
                weeks, ours, why = bench.ours(years)
                if why:
                    notes.append(f"{years} y, ours not measured: {why}")
                seed = None
                if not args.skip_seed:
                    seed_weeks, seed = bench.seed(years)
                    weeks = max(weeks, seed_weeks)
                floor = report.floor_seconds(weeks, per_window, window)
                rows.append(report.BackfillRow(years, weeks, floor, ours, seed))
                print(f"... {years} y done after {time.monotonic() - started:.0f} s", file=sys.stderr)
        update = bench.update_data()
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    print(
        report.render(
            rows, update, scale=args.scale, per_window=per_window, window=window, scheduler=SCHEDULER
        )
    )
    for note in notes:
        print(f"note: {note}")
    details = [
        f"{row.years} y: {name} final file {run.final_size / report.MB:.1f} MB, "
        f"{run.bytes_downloaded / report.MB:.1f} MB downloaded from OH, {run.runs} task runs"
        for row in rows
        for name, run in (("ours", row.ours), ("seed", row.seed))
        if run is not None
    ]
    for line in details:
        print(line)
    missed = report.missed_targets(rows, update, report.Targets())
    print(f"databases: {bench.engine}; total benchmark time {time.monotonic() - started:.0f} s")
    if missed:
        print("TARGETS MISSED:")
        for line in missed:
            print(f"  - {line}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
