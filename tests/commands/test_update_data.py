"""``update_data``: which members it queues, whom it skips and why, and how it scales."""

import base64
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from datauploader import tasks
from datauploader.celery import app
from main.models import MovesMember

pytestmark = pytest.mark.django_db

ELAPSED = re.compile(r"; \d+\.\d\d s$")


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def run_update(*args: str, verbosity: int = 1) -> list[str]:
    out = StringIO()
    call_command("update_data", *args, verbosity=verbosity, stdout=out)
    return out.getvalue().splitlines()


def without_elapsed(line: str) -> str:
    assert ELAPSED.search(line), line
    return ELAPSED.sub("", line)


@pytest.fixture
def members(make_member) -> None:
    """One member of each kind the four-day rule tells apart."""
    make_member("10000001", last_updated=days_ago(3), status=MovesMember.Status.CURRENT)
    make_member("10000002", last_updated=days_ago(5), status=MovesMember.Status.CURRENT)
    make_member("10000003", last_updated=None)
    make_member("10000004", last_updated=days_ago(5), status=MovesMember.Status.NEEDS_RECONNECT)
    make_member("10000005", last_updated=days_ago(9), refresh_token="", access_token="")
    make_member(
        "10000006",
        last_updated=None,
        status=MovesMember.Status.BACKFILLING,
        next_batch_at=timezone.now() + timedelta(minutes=1),
    )
    # A backfill whose next batch is overdue gets queued again.
    make_member(
        "10000007",
        last_updated=None,
        status=MovesMember.Status.BACKFILLING,
        next_batch_at=timezone.now() - timedelta(minutes=1),
    )
    make_member("10000008", last_updated=days_ago(30), status=MovesMember.Status.FAILING)


def test_it_queues_members_not_updated_for_more_than_four_days(members, queued):
    run_update()

    assert sorted(queued) == ["10000002", "10000003", "10000007", "10000008"]


def test_it_summarises_the_run_in_one_line(members, queued):
    lines = run_update()

    assert len(lines) == 1
    assert without_elapsed(lines[0]) == (
        "queued 4 members in 1 batch; skipped 4 (1 updated in the last 4 days, "
        "1 backfill already scheduled, 1 needs reconnect, 1 no refresh token)"
    )


def test_it_lists_skipped_members_with_their_reason_at_verbosity_2(members, queued):
    lines = run_update(verbosity=2)

    assert sorted(lines[:-1]) == [
        "skipped 10000001: updated recently",
        "skipped 10000004: needs reconnect",
        "skipped 10000005: no refresh token",
        "skipped 10000006: backfill already scheduled",
    ]
    assert lines[-1].startswith("queued 4 members in 1 batch; skipped 4 ")


def test_it_follows_update_stale_after_days(members, queued, settings):
    settings.UPDATE_STALE_AFTER_DAYS = 2

    lines = run_update()

    assert sorted(queued) == ["10000001", "10000002", "10000003", "10000007", "10000008"]
    assert "skipped 3 (1 backfill already scheduled" in lines[-1]


def test_it_queues_nothing_in_a_dry_run(members, queued):
    lines = run_update("--dry-run", verbosity=2)

    assert queued == []
    assert sorted(line for line in lines if line.startswith("would queue")) == [
        "would queue 10000002",
        "would queue 10000003",
        "would queue 10000007",
        "would queue 10000008",
    ]
    assert without_elapsed(lines[-1]).startswith("dry run: would queue 4 members in 1 batch; skipped 4 (")


def test_it_says_so_when_there_is_nobody_to_update(db, queued):
    lines = run_update()

    assert queued == []
    assert without_elapsed(lines[-1]) == "queued 0 members in 0 batches; skipped 0"


def test_it_sends_one_fan_out_task_per_batch(make_member, queued, monkeypatch):
    stale = [make_member(str(10000001 + n), last_updated=days_ago(5)).member.oh_id for n in range(5)]
    batches: list[list[str]] = []
    fan_out = tasks.queue_process_moves_batch.apply_async

    def spy(args=None, **options):
        batches.append(list(args[0]))
        return fan_out(args=args, **options)

    monkeypatch.setattr(tasks.queue_process_moves_batch, "apply_async", spy)

    lines = run_update("--batch-size", "2")

    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(id_ for batch in batches for id_ in batch) == stale
    # The fan-out task (run eagerly here) queues process_moves for exactly those members.
    assert sorted(queued) == stale
    assert lines[-1].startswith("queued 5 members in 3 batches; ")


@pytest.fixture
def broker(redis_db):
    """The suite's own Redis database as the broker, with eager mode off.

    Messages then stay in the queue where a worker would find them, to be
    read back as they were sent.
    """
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield lambda: [json.loads(raw) for raw in reversed(redis_db.lrange("celery", 0, -1))]
    app.conf.task_always_eager = eager


def arguments(message: dict) -> list:
    # A Celery message body is [args, kwargs, embed].
    return json.loads(base64.b64decode(message["body"]))[0]


def test_it_publishes_one_message_per_batch(make_member, broker):
    stale = sorted(make_member(str(10000001 + n), last_updated=days_ago(5)).member.oh_id for n in range(3))

    run_update("--batch-size", "2")

    messages = broker()
    assert [m["headers"]["task"] for m in messages] == ["datauploader.queue_process_moves_batch"] * 2
    assert sorted(id_ for m in messages for id_ in arguments(m)[0]) == stale


def test_the_fan_out_task_queues_each_member_of_its_batch(broker):
    assert tasks.queue_process_moves_batch.run(["10000001", "10000002"]) == 2

    messages = broker()
    assert [m["headers"]["task"] for m in messages] == ["datauploader.process_moves"] * 2
    assert [arguments(m) for m in messages] == [["10000001"], ["10000002"]]


@pytest.mark.parametrize("count", [3, 40])
def test_it_makes_one_query_however_many_members(make_member, queued, django_assert_max_num_queries, count):
    for n in range(count):
        make_member(str(10000001 + n), last_updated=days_ago(5 if n % 2 else 1))

    with django_assert_max_num_queries(1):
        run_update("--batch-size", "7")

    assert len(queued) == count // 2
