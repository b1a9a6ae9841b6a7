"""Our backfill of one member, the way production runs it: ``bench.scale``'s run with one member.

One worker machine of one prefork process (``celery -A datauploader worker
--pool prefork --concurrency 1``), the member connected through
``core.accounts.connect_moves`` at the top of a server minute, and the run
lasting until they are current. Their Moves user is shared with the
original design's run of the same length (``bench.seed_baseline``), so both
move exactly the same days. Wall time is the makespan: from queueing to the
member being current, with their whole history on Open Humans.
"""

from bench import fixtures
from bench.scale import ScaleResult, Session, backfill

SCHEDULER = "a real Celery worker (prefork, one process) on a Redis database of its own"


def shared_user(years: int) -> str:
    return f"bench-{years}y"


def first_date(years: int):
    from sandbox.synthetic import local_today

    return fixtures.years_ago(local_today("Europe/Berlin"), years)


def backfill_one(session: Session, years: int, *, clock: bool = False) -> ScaleResult:
    bench = fixtures.sandbox_member(f"bench-ours-{years}y", first_date(years), shared_user=shared_user(years))
    members = [(bench, fixtures.signed_in(bench))]
    return backfill(session, members, name=f"ours-{years}y", machines=1, workers=1, clock=clock)
