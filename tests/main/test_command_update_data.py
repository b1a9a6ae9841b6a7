"""``manage.py update_data``: the daily safety net, its one-line summary and what it lists."""

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from core import deliveries
from core.models import MovesMember, Priority, WebhookDelivery

ELAPSED = re.compile(r"; \d+\.\d\d s$")
Status = MovesMember.Status


def run(*args: str, verbosity: int = 1) -> list[str]:
    out = StringIO()
    call_command("update_data", *args, verbosity=verbosity, stdout=out)
    return out.getvalue().splitlines()


def without_elapsed(line: str) -> str:
    assert ELAPSED.search(line), line
    return ELAPSED.sub("", line)


def hours_ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def members(make_member) -> None:
    make_member("10000001", status=Status.CURRENT, last_updated=hours_ago(3))
    make_member("10000002", status=Status.CURRENT, last_updated=hours_ago(30))
    make_member("10000003")
    make_member("10000004", status=Status.NEEDS_RECONNECT, last_updated=hours_ago(99))
    make_member("10000005", refresh_token="", access_token="")
    make_member("10000006", status=Status.BACKFILLING, sync_wanted_since=hours_ago(1))


def test_update_data_queues_the_stale_and_sums_up_in_one_line(
    members, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lines = run()

    assert [without_elapsed(line) for line in lines] == [
        "queued updates of 2 members; skipped 4 (1 updated recently, 1 already queued or running, "
        "1 needs reconnect, 1 not connected)"
    ]
    queued = MovesMember.objects.filter(sync_priority=Priority.UPDATE, update_requested_at__isnull=False)
    assert sorted(queued.values_list("member__oh_id", flat=True)) == ["10000002", "10000003"]
    assert queued_tasks() == [("datauploader.dispatch", [])]


def test_update_data_lists_every_skipped_member_at_verbosity_2(members, queued_tasks):
    lines = run(verbosity=2)

    assert sorted(lines[:-1]) == [
        "forgot 0 webhook deliveries past their replay window",
        "skipped 10000001: updated recently",
        "skipped 10000004: needs reconnect",
        "skipped 10000005: not connected",
        "skipped 10000006: already queued or running",
    ]
    assert lines[-1].startswith("queued updates of 2 members; skipped 4 (")


def test_update_data_dry_run_queues_nothing_and_says_whom_it_would(members, queued_tasks):
    before = list(MovesMember.objects.order_by("pk").values())

    lines = run("--dry-run", verbosity=2)

    assert sorted(line for line in lines if line.startswith("would queue")) == [
        "would queue 10000002",
        "would queue 10000003",
    ]
    assert without_elapsed(lines[-1]).startswith("dry run: would queue updates of 2 members; skipped 4 (")
    assert (list(MovesMember.objects.order_by("pk").values()), queued_tasks()) == (before, [])


def test_update_data_with_nobody_to_update_sends_nothing(
    db, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lines = run()

    assert [without_elapsed(line) for line in lines] == ["queued updates of 0 members; skipped 0"]

    assert queued_tasks() == []


def test_update_data_takes_the_same_few_queries_for_many_members(
    make_member, queued_tasks, django_assert_max_num_queries
):
    for n in range(80):
        make_member(str(10000001 + n), status=Status.CURRENT, last_updated=hours_ago(30 if n % 2 else 1))

    with django_assert_max_num_queries(6):
        lines = run()

    assert lines[-1].startswith("queued updates of 40 members; skipped 40 (40 updated recently)")


def webhook_deliveries_received(*ages: timedelta) -> None:
    now = timezone.now()
    for number, age in enumerate(ages):
        with time_machine.travel(now - age, tick=False):
            deliveries.first_delivery("moves", deliveries.digest(str(number)))


def test_update_data_forgets_webhook_deliveries_past_their_replay_window(db, settings):
    settings.WEBHOOK_MAX_AGE_SECONDS = 900
    webhook_deliveries_received(timedelta(minutes=31), timedelta(days=40), timedelta(minutes=29))

    run()

    assert list(WebhookDelivery.objects.values_list("digest", flat=True)) == [deliveries.digest("2")]


def test_update_data_dry_run_forgets_no_webhook_delivery(db):
    webhook_deliveries_received(timedelta(days=40))

    run("--dry-run")

    assert WebhookDelivery.objects.count() == 1
