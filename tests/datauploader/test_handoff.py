"""A run that used up its batch receives the member's next one from the dispatcher, or ends."""

import threading
import time

import pytest
import redis
from django.db import connection
from django.utils import timezone

from apiclients.quota import Batch, MovesQuota, moves_quota
from core.models import MovesMember, Priority
from datauploader import handoff
from datauploader.dispatch import Dispatcher
from datauploader.sync import Sync
from tests.datauploader.conftest import backfilling, into_this_minute, server_headers, told_quota

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def early_in_a_minute():
    """A clock that runs, from a few seconds into a minute: a wait for the next window can be watched."""
    with into_this_minute(5, tick=True):
        yield


@pytest.fixture
def ticking_quota(redis_db: redis.Redis, early_in_a_minute) -> MovesQuota:
    return told_quota(redis_db)


def wait_in_thread(pk: int, quota: MovesQuota) -> tuple[threading.Thread, list]:
    got: list = []

    def wait() -> None:
        try:
            got.append(handoff.wait_for_batch(pk, quota, lambda: True, lambda: None))
        finally:
            connection.close()

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, got


def until(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_the_dispatcher_hands_the_next_batch_to_the_waiting_run_instead_of_queueing_one(
    make_member, ticking_quota, broker_messages
):
    member = backfilling(make_member, minutes_ago=5)
    member.claim_lease(60, "here")
    thread, got = wait_in_thread(member.pk, ticking_quota)
    until(lambda: member.pk in handoff.live_members(ticking_quota.client))

    report = Dispatcher(quota=ticking_quota, client=ticking_quota.client).dispatch()
    thread.join(5)

    [batch] = got
    assert (batch.minute, batch.size) == (ticking_quota.certain_minute(), 40)
    assert [(allotment.pk, allotment.size) for allotment in report.sent] == [(member.pk, 40)]
    assert broker_messages() == []
    assert handoff.live_members(ticking_quota.client) == []


def test_a_run_that_registers_while_the_minute_has_room_gets_its_batch_at_once(
    make_member, ticking_quota, broker_messages
):
    dispatcher = Dispatcher(quota=ticking_quota, client=ticking_quota.client)
    member = backfilling(make_member, minutes_ago=5)
    member.claim_lease(60, "here")

    started = time.monotonic()
    batch = handoff.wait_for_batch(
        member.pk, ticking_quota, lambda: dispatcher.serves_next(member.pk), dispatcher.dispatch
    )

    assert time.monotonic() - started < 1
    assert (batch.minute, batch.size) == (ticking_quota.certain_minute(), 40)
    assert broker_messages() == []


def test_a_run_waits_only_when_the_next_window_would_give_its_member_a_batch(make_member, ticking_quota):
    dispatcher = Dispatcher(quota=ticking_quota, client=ticking_quota.client)
    earlier = backfilling(make_member, minutes_ago=9, wanted=50)
    member = backfilling(make_member, minutes_ago=5)
    member.claim_lease(60, "here")
    # The earlier member leaves 9 of the next window's 59.
    assert dispatcher.serves_next(member.pk) is True

    MovesMember.objects.filter(pk=earlier.pk).update(requests_wanted=500)
    assert dispatcher.serves_next(member.pk) is False
    started = time.monotonic()
    assert (
        handoff.wait_for_batch(
            member.pk, ticking_quota, lambda: dispatcher.serves_next(member.pk), dispatcher.dispatch
        )
        is None
    )
    assert time.monotonic() - started < 0.5
    assert handoff.live_members(ticking_quota.client) == []


def test_only_a_backfill_is_worth_a_waiting_run(make_member, ticking_quota):
    dispatcher = Dispatcher(quota=ticking_quota, client=ticking_quota.client)
    member = make_member(sync_wanted_since=timezone.now(), sync_priority=Priority.FIRST, requests_wanted=3)
    member.claim_lease(60, "here")
    assert dispatcher.serves_next(member.pk) is False

    MovesMember.objects.filter(pk=member.pk).update(sync_priority=Priority.BACKFILL)
    assert dispatcher.serves_next(member.pk) is True


def test_another_waiting_run_counts_in_the_next_windows_plan(make_member, ticking_quota):
    dispatcher = Dispatcher(quota=ticking_quota, client=ticking_quota.client)
    other = backfilling(make_member, minutes_ago=9, wanted=500)
    member = backfilling(make_member, minutes_ago=5)
    for running in (other, member):
        running.claim_lease(60, "here")
    assert dispatcher.serves_next(member.pk) is True

    ticking_quota.client.set(handoff.LIVE_KEY.format(pk=other.pk), "1")
    ticking_quota.client.sadd(handoff.LIVE_SET, other.pk)
    assert dispatcher.serves_next(member.pk) is False


def test_no_run_waits_for_an_hour_whose_quota_is_spent(make_member, redis_db, early_in_a_minute):
    quota = moves_quota(redis_db)
    now = time.time()
    quota.observe(server_headers(hour_used=2000, at=now), now, now)
    member = backfilling(make_member, minutes_ago=5)

    assert handoff.wait_for_batch(member.pk, quota, lambda: True, lambda: None) is None


def test_a_stopping_worker_ends_the_wait_within_a_slice(make_member, ticking_quota):
    member = backfilling(make_member, minutes_ago=5)
    thread, got = wait_in_thread(member.pk, ticking_quota)
    until(lambda: member.pk in handoff.live_members(ticking_quota.client))

    handoff.mark_stopping(ticking_quota.client)
    thread.join(handoff.SLICE_SECONDS + 2)

    assert not thread.is_alive()
    assert got == [None]
    assert handoff.live_members(ticking_quota.client) == []
    handoff.clear_stopping(ticking_quota.client)


def test_a_batch_handed_over_as_the_wait_ends_is_taken_on_the_way_out(redis_db):
    quota = moves_quota(redis_db)
    redis_db.set(handoff.LIVE_KEY.format(pk=7), "1")
    redis_db.sadd(handoff.LIVE_SET, 7)

    assert handoff.offer(redis_db, 7, Batch(minute=100, size=12), quota) is True
    assert handoff._leave(redis_db, 7) == Batch(minute=100, size=12)
    # Once the run has left, nothing is handed to it: the dispatcher gives the batch back.
    assert handoff.offer(redis_db, 7, Batch(minute=100, size=12), quota) is False
    assert redis_db.llen(handoff.BATCH_KEY.format(pk=7)) == 0


def test_a_killed_runs_registration_is_dropped_and_its_batch_given_back(make_member, ticking_quota):
    member = backfilling(make_member, minutes_ago=5, wanted=30)
    # A run that registered and died: its key expired, its name is still in the set.
    ticking_quota.client.sadd(handoff.LIVE_SET, member.pk)
    member.claim_lease(60, "dead")

    report = Dispatcher(quota=ticking_quota, client=ticking_quota.client).dispatch()

    assert report.sent == []
    assert ticking_quota.free() == ticking_quota.minute.limit
    assert handoff.live_members(ticking_quota.client) == []


def test_a_run_goes_on_with_each_batch_handed_to_it_until_the_history_is_whole(connect, settings):
    settings.RATE_LIMIT_TIME_SCALE = 60
    settings.MOVES_REQUESTS_PER_MINUTE = 9
    person = connect(days=120)
    member = MovesMember.objects.select_related("member").get(pk=person.member.pk)
    quota = moves_quota()
    handed: list[Batch] = []

    def next_batch() -> Batch | None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            batch = quota.reserve(8)
            if batch is not None:
                handed.append(batch)
                return batch
            time.sleep(0.02)
        return None

    lease = member.claim_lease(60, "here")
    first = next_batch()
    report = Sync(member, lease, first, quota, next_batch=next_batch).run()
    member.release_lease(lease)

    assert report.outcome == "current"
    assert report.batches == len(handed) >= 3
    assert sum(batch.used for batch in handed) == report.requests
    assert len({batch.minute for batch in handed}) >= 2
    assert person.file_days() == person.moves_days()
    assert person.refresh().sync_wanted_since is None
