"""The dispatcher: who gets the shared Moves quota, in what order, in whole batches, and on which queue."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apiclients.quota import Batch
from core.models import FIRST_BATCH_REQUESTS, MovesMember, Priority
from datauploader import dispatch, machines, tickets
from datauploader.dispatch import Dispatcher, Waiting, plan_batches

pytestmark = pytest.mark.django_db


def waiting(pk: int, priority: int, wanted: int) -> Waiting:
    return Waiting(pk=pk, oh_id=str(pk), priority=priority, wanted=wanted, home="")


def test_updates_come_first_then_first_batches_then_backfills_in_queue_order():
    members = [
        waiting(1, Priority.UPDATE, 2),
        waiting(2, Priority.FIRST, 3),
        waiting(3, Priority.FIRST, 3),
        waiting(4, Priority.BACKFILL, 30),
        waiting(5, Priority.BACKFILL, 30),
        waiting(6, Priority.SWEEP, 1),
    ]
    plan = [(member.pk, size) for member, size in plan_batches(members, 59)]
    # New member 2 is first in the backfill queue too: it takes what is left
    # after the others' first batches and gives back what it does not need.
    assert plan == [(1, 2), (2, 3 + 51), (3, 3)]


def test_backfills_get_whole_batches_first_come_first_served():
    members = [
        waiting(4, Priority.BACKFILL, 30),
        waiting(5, Priority.BACKFILL, 40),
        waiting(6, Priority.BACKFILL, 9),
    ]
    assert [(member.pk, size) for member, size in plan_batches(members, 59)] == [(4, 30), (5, 29)]


def test_a_short_window_serves_updates_before_anyone_else():
    members = [waiting(1, Priority.UPDATE, 3), waiting(2, Priority.UPDATE, 3), waiting(3, Priority.FIRST, 3)]
    assert [(member.pk, size) for member, size in plan_batches(members, 4)] == [(1, 3), (2, 1)]


def test_every_new_member_gets_a_first_batch_before_any_backfill():
    members = [waiting(pk, Priority.FIRST, FIRST_BATCH_REQUESTS) for pk in range(1, 30)]
    plan = plan_batches([waiting(100, Priority.BACKFILL, 50), *members], 59)
    sizes = dict((member.pk, size) for member, size in plan)
    assert 100 not in sizes
    assert sum(sizes.values()) == 59
    assert [sizes[pk] for pk in range(2, 20)] == [FIRST_BATCH_REQUESTS] * 18


def test_dispatch_reserves_batches_and_queues_one_run_per_member(make_member, quota, broker_messages):
    now = timezone.now()
    first = make_member(
        sync_wanted_since=now - timedelta(minutes=2), sync_priority=Priority.BACKFILL, requests_wanted=40
    )
    second = make_member(
        sync_wanted_since=now - timedelta(minutes=1), sync_priority=Priority.BACKFILL, requests_wanted=40
    )
    make_member()  # wants nothing
    report = Dispatcher(quota=quota, client=quota.client).dispatch()
    assert [(allotment.oh_id, allotment.size) for allotment in report.sent] == [
        (first.member.oh_id, 40),
        (second.member.oh_id, quota.minute.limit - 40),
    ]
    assert quota.free() == 0
    minute = quota.certain_minute()
    messages = broker_messages()
    assert [(queue, name, args[0]) for queue, name, args in messages] == [
        ("celery", "datauploader.process_moves", first.member.oh_id),
        ("celery", "datauploader.process_moves", second.member.oh_id),
    ]
    # Each run's batch is held under its ticket until the run starts.
    held = tickets.held(quota.client, [first.pk, second.pk])
    for (_, _, (_, argument)), member, size in zip(messages, (first, second), (40, 19), strict=True):
        assert argument == {"minute": minute, "size": size, "ticket": held[member.pk].id}
        assert held[member.pk].batch == Batch(minute=minute, size=size)


def test_a_dispatched_member_gets_no_second_batch_before_its_run_starts(make_member, quota, broker_messages):
    member = make_member(sync_wanted_since=timezone.now(), sync_priority=Priority.BACKFILL, requests_wanted=5)
    Dispatcher(quota=quota, client=quota.client).dispatch()
    again = Dispatcher(quota=quota, client=quota.client).dispatch()
    assert again.sent == []
    [(_, _, (_, argument))] = broker_messages()
    assert tickets.claim(quota.client, member.pk, argument["ticket"]) == Batch(
        minute=argument["minute"], size=5
    )
    # Its run started; once it ends, the member may be given more.
    assert [
        allotment.oh_id for allotment in Dispatcher(quota=quota, client=quota.client).dispatch().sent
    ] == [member.member.oh_id]


@pytest.mark.parametrize(
    "fields",
    [
        {"not_before": timezone.now() + timedelta(hours=1)},
        {"lease_until": timezone.now() + timedelta(minutes=1), "lease_token": "x"},
        {"status": MovesMember.Status.NEEDS_RECONNECT},
        {"refresh_token": ""},
    ],
    ids=["backing off", "running", "needs reconnect", "disconnected"],
)
def test_members_who_cannot_run_now_get_nothing(make_member, quota, broker_messages, fields):
    make_member(sync_wanted_since=timezone.now(), requests_wanted=5, **fields)
    assert Dispatcher(quota=quota, client=quota.client).dispatch().sent == []
    assert broker_messages() == []


def test_a_member_whose_open_humans_access_ended_gets_nothing(make_member, quota, broker_messages):
    member = make_member(sync_wanted_since=timezone.now(), requests_wanted=5)
    member.member.needs_reconnect = True
    member.member.save()
    assert Dispatcher(quota=quota, client=quota.client).dispatch().sent == []


def test_nothing_is_handed_out_before_the_server_said_how_much_is_used(
    make_member, redis_db, broker_messages, mid_minute
):
    from apiclients.quota import moves_quota

    quota = moves_quota(redis_db)
    make_member(sync_wanted_since=timezone.now(), requests_wanted=30)
    report = Dispatcher(quota=quota, client=redis_db).dispatch()
    # One request only: its answer's rate-limit headers tell the rest.
    assert report.requests == 1


def test_a_full_window_hands_out_nothing(make_member, quota, broker_messages):
    from tests.datauploader.conftest import server_headers

    now = time.time()
    quota.observe(server_headers(minute_used=60, at=now), now, now)
    make_member(sync_wanted_since=timezone.now(), requests_wanted=3)
    report = Dispatcher(quota=quota, client=quota.client).dispatch()
    assert (report.sent, report.skipped) == ([], "no quota free")


def test_runs_go_to_the_machine_that_keeps_the_members_history(make_member, quota, broker_messages):
    machines.heartbeat(quota.client, "worker.1")
    machines.heartbeat(quota.client, "worker.2")
    kept = make_member(sync_wanted_since=timezone.now(), requests_wanted=2, worker_home="worker.2")
    new = make_member(sync_wanted_since=timezone.now(), requests_wanted=2, sync_priority=Priority.BACKFILL)
    Dispatcher(quota=quota, client=quota.client).dispatch()
    queues = {args[0]: queue for queue, _, args in broker_messages()}
    assert queues == {kept.member.oh_id: "history.worker.2", new.member.oh_id: "history.worker.1"}


def test_a_member_of_a_silent_machine_moves_to_a_live_one(make_member, quota, broker_messages):
    machines.heartbeat(quota.client, "worker.1")
    member = make_member(sync_wanted_since=timezone.now(), requests_wanted=2, worker_home="worker.gone")
    Dispatcher(quota=quota, client=quota.client).dispatch()
    assert [(queue, args[0]) for queue, _, args in broker_messages()] == [
        ("history.worker.1", member.member.oh_id)
    ]


def test_only_one_dispatch_runs_at_a_time(quota):
    held = quota.client.lock(dispatch.LOCK_KEY, timeout=5)
    assert held.acquire()
    assert Dispatcher(quota=quota, client=quota.client).dispatch().skipped == "another dispatch is running"
