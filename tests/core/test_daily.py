"""The daily safety net: who gets an update, who a weekly sweep, who is skipped and why."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from core import daily
from core.models import MovesMember, Priority
from open_humans.models import OpenHumansMember

NOW = datetime(2024, 5, 15, 3, 0, tzinfo=UTC)
Status = MovesMember.Status


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def plan(dry_run: bool = False) -> tuple[daily.Plan, dict[str, str]]:
    heard: dict[str, str] = {}
    found = daily.plan_daily(dry_run=dry_run, on_member=heard.__setitem__)
    return found, heard


@pytest.fixture
def members(make_member) -> None:
    """One member of each kind the daily run tells apart (the stale cutoff is 20 hours)."""
    make_member("10000001", status=Status.CURRENT, last_updated=ago(hours=3))
    make_member("10000002", status=Status.CURRENT, last_updated=ago(hours=21))
    make_member("10000003")
    make_member("10000004", status=Status.NEEDS_RECONNECT, last_updated=ago(days=5))
    make_member("10000005", refresh_token="", access_token="", last_updated=ago(days=9))
    make_member("10000006", status=Status.BACKFILLING, sync_wanted_since=ago(minutes=1))
    make_member("10000007", status=Status.CURRENT, last_updated=ago(days=2), lease_until=NOW)
    make_member("10000008", status=Status.CURRENT, last_updated=ago(days=2), last_notified_at=ago(hours=2))
    make_member("10000009", status=Status.FAILING, last_updated=ago(days=30))
    make_member("10000010", status=Status.CURRENT, last_updated=ago(days=2)).member.refresh_refused()


def test_plan_daily_hears_every_member_with_their_reason(members):
    _, heard = plan()

    assert heard == {
        "10000001": daily.UP_TO_DATE,
        "10000002": daily.QUEUE,
        "10000003": daily.QUEUE,
        "10000004": daily.NEEDS_RECONNECT,
        "10000005": daily.NOT_CONNECTED,
        "10000006": daily.BUSY,
        "10000007": daily.BUSY,
        "10000008": daily.NOTIFIED,
        "10000009": daily.QUEUE,
        "10000010": daily.NEEDS_RECONNECT,
    }


def test_plan_daily_queues_an_update_of_every_stale_member(members):
    found, _ = plan()

    assert (found.queued, found.skipped) == (
        3,
        Counter(
            {
                daily.UP_TO_DATE: 1,
                daily.NEEDS_RECONNECT: 2,
                daily.NOT_CONNECTED: 1,
                daily.BUSY: 2,
                daily.NOTIFIED: 1,
            }
        ),
    )
    queued = MovesMember.objects.filter(update_requested_at=NOW).order_by("member__oh_id")
    assert [(m.member.oh_id, m.sync_wanted_since, m.sync_priority) for m in queued] == [
        ("10000002", NOW, Priority.UPDATE),
        ("10000003", NOW, Priority.UPDATE),
        ("10000009", NOW, Priority.UPDATE),
    ]


def test_plan_daily_follows_the_stale_cutoff(members, settings):
    settings.UPDATE_STALE_AFTER_HOURS = 1

    _, heard = plan()

    # Updated three hours ago, and notified two hours ago: both older than the cutoff now.
    assert (heard["10000001"], heard["10000008"]) == (daily.QUEUE, daily.QUEUE)


def test_plan_daily_dry_run_changes_nothing_and_says_the_same(members):
    before = list(MovesMember.objects.order_by("pk").values())

    dry, dry_heard = plan(dry_run=True)

    assert list(MovesMember.objects.order_by("pk").values()) == before
    real, real_heard = plan()
    assert (dry.queued, dry.sweeps, dry.skipped, dry_heard) == (
        real.queued,
        real.sweeps,
        real.skipped,
        real_heard,
    )


@pytest.mark.parametrize("count", [3, 60])
def test_plan_daily_takes_the_same_few_queries_for_any_number_of_members(
    make_member, django_assert_max_num_queries, count
):
    for n in range(count):
        make_member(str(10000001 + n), status=Status.CURRENT, last_updated=ago(days=2 if n % 2 else 0))

    with django_assert_max_num_queries(5):
        found = daily.plan_daily()

    assert (found.queued, found.skipped_total) == ((count // 2), count - count // 2)


def connected_days_ago(make_member, oh_id: str, days: float, **fields) -> MovesMember:
    fields = {
        "status": Status.CURRENT,
        "first_date": date(2016, 6, 13),
        "last_updated": ago(hours=1),
        **fields,
    }
    moves = make_member(oh_id, **fields)
    MovesMember.objects.filter(pk=moves.pk).update(created=ago(days=days))
    return moves


def test_plan_daily_sweeps_a_member_a_week_after_they_connected(make_member):
    due = connected_days_ago(make_member, "10000001", 7.1)
    connected_days_ago(make_member, "10000002", 6.9)

    found, _ = plan()

    assert found.sweeps == 1
    swept = MovesMember.objects.filter(sweep_from__isnull=False)
    assert [(m.pk, m.sweep_from, m.sweep_since, m.sync_priority) for m in swept] == [
        (due.pk, date(2016, 6, 13), ago(days=7.1), Priority.SWEEP)
    ]


def test_plan_daily_sweeps_again_a_week_after_the_last_sweep(make_member):
    connected_days_ago(make_member, "10000001", 30, last_sweep_at=ago(days=7.1))
    connected_days_ago(make_member, "10000002", 30, last_sweep_at=ago(days=6.9))

    found, _ = plan()

    assert list(
        MovesMember.objects.filter(sweep_since=ago(days=7.1)).values_list("member__oh_id", flat=True)
    ) == ["10000001"]
    assert found.sweeps == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"sync_wanted_since": NOW - timedelta(minutes=1)},
        {"status": Status.RETRYING},
        {"refresh_token": ""},
        {"last_updated": NOW - timedelta(days=2)},
    ],
    ids=["queued", "in trouble", "not connected", "getting an update"],
)
def test_plan_daily_sweeps_no_member_who_is_busy_or_not_current(make_member, fields):
    connected_days_ago(make_member, "10000001", 30, **fields)

    found, _ = plan()

    assert (found.sweeps, MovesMember.objects.filter(sweep_from__isnull=False).count()) == (0, 0)


def test_plan_daily_sweeps_nobody_whose_open_humans_access_ended(make_member):
    moves = connected_days_ago(make_member, "10000001", 30)
    OpenHumansMember.objects.filter(pk=moves.member_id).update(needs_reconnect=True)

    assert plan()[0].sweeps == 0


def test_plan_daily_wakes_the_dispatcher_only_when_it_queued_someone(
    make_member, django_capture_on_commit_callbacks
):
    make_member("10000001", status=Status.CURRENT, last_updated=ago(hours=1))
    with django_capture_on_commit_callbacks() as idle:
        daily.plan_daily()
    make_member("10000002")
    with django_capture_on_commit_callbacks() as busy:
        daily.plan_daily()

    assert (len(idle), len(busy)) == (0, 1)


def test_describe_sums_up_a_run_in_one_line():
    found = daily.Plan(
        stale_after=timedelta(hours=20),
        queued=812,
        sweeps=3,
        skipped=Counter({daily.UP_TO_DATE: 4101, daily.BUSY: 77, daily.NEEDS_RECONNECT: 12}),
        seconds=0.04,
    )

    assert daily.describe(found) == (
        "queued updates of 812 members; 3 weekly sweeps; skipped 4190 (4101 updated recently, "
        "77 already queued or running, 12 needs reconnect); 0.04 s"
    )


def test_describe_a_dry_run_of_one_member_with_nobody_skipped():
    found = daily.Plan(stale_after=timedelta(hours=20), queued=1)

    assert (
        daily.describe(found, dry_run=True) == "dry run: would queue updates of 1 member; skipped 0; 0.00 s"
    )
