"""A queued run's batch waits for it under a ticket, renewed each window, instead of a second run."""

import threading
import time

import pytest
import time_machine
from django.utils import timezone

from apiclients.quota import Batch, MovesQuota
from datauploader import machines, tickets
from datauploader.dispatch import Dispatcher
from datauploader.tasks import process_moves
from tests.datauploader.conftest import backfilling, server_headers

pytestmark = pytest.mark.django_db


def dispatch(quota: MovesQuota):
    return Dispatcher(quota=quota, client=quota.client).dispatch()


def a_minute_later():
    return time_machine.travel(time.time() + 60, tick=False)


def hour_used(quota: MovesQuota) -> int:
    return quota.usage().hour_used


def test_a_run_still_queued_when_its_minute_ends_gets_the_next_windows_batch(
    make_member, quota, broker_messages
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    with a_minute_later():
        report = dispatch(quota)
        minute = quota.certain_minute()
        assert minute == queued_with["minute"] + 1
        # No second run: the queued one will use this window's batch.
        assert len(broker_messages()) == 1
        assert [(allotment.pk, allotment.size) for allotment in report.sent] == [(member.pk, 40)]
        # The lapsed batch never reached Moves: only the new one counts in the hour.
        assert hour_used(quota) == 40
        assert tickets.claim(quota.client, member.pk, queued_with["ticket"]) == Batch(minute=minute, size=40)


def test_a_queued_run_with_a_batch_of_this_window_is_left_alone(make_member, quota, broker_messages):
    backfilling(make_member, wanted=10)
    dispatch(quota)
    assert dispatch(quota).sent == []
    assert len(broker_messages()) == 1
    assert hour_used(quota) == 10


def test_a_run_that_starts_as_its_ticket_is_renewed_keeps_the_batch_it_claimed(
    make_member, quota, broker_messages, monkeypatch
):
    backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    renew = tickets.renew
    claimed = []

    def run_starts_first(client, pk, ticket, batch):
        claimed.append(tickets.claim(client, pk, ticket.id))
        return renew(client, pk, ticket, batch)

    monkeypatch.setattr(tickets, "renew", run_starts_first)
    with a_minute_later():
        report = dispatch(quota)
        assert report.sent == []
        assert claimed == [Batch(minute=queued_with["minute"], size=40)]
        # What the dispatcher reserved for the renewal went back.
        assert quota.free() == quota.minute.limit
        assert len(broker_messages()) == 1


def test_a_run_queued_on_a_machine_that_stopped_is_queued_again_on_a_live_one(
    make_member, quota, broker_messages
):
    machines.heartbeat(quota.client, "worker.1")
    machines.heartbeat(quota.client, "worker.2")
    member = backfilling(make_member, worker_home="worker.2")
    dispatch(quota)
    [(queue, _, (_, queued_with))] = broker_messages()
    assert queue == "history.worker.2"
    quota.client.zrem(machines.ALIVE_KEY, "worker.2")
    with a_minute_later():
        machines.heartbeat(quota.client, "worker.1")
        dispatch(quota)
        runs = {queue: argument for queue, _, (_, argument) in broker_messages()}
        assert sorted(runs) == ["history.worker.1", "history.worker.2"]
        assert tickets.claim(quota.client, member.pk, queued_with["ticket"]) is None
        again = runs["history.worker.1"]
        assert tickets.claim(quota.client, member.pk, again["ticket"]) == Batch(
            minute=quota.certain_minute(), size=40
        )
        assert hour_used(quota) == 40


def test_a_ticket_is_kept_for_a_few_windows_only(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    left_ms = quota.client.pttl(tickets.TICKET_KEY.format(pk=member.pk))
    patience_ms = tickets.PATIENCE_WINDOWS * quota.minute.length * 1000
    assert patience_ms - 5000 < left_ms <= patience_ms
    # Renewing a ticket does not lengthen it: a run that never starts is forgotten in time.
    with a_minute_later():
        dispatch(quota)
        assert quota.client.pttl(tickets.TICKET_KEY.format(pk=member.pk)) <= left_ms


def test_a_run_whose_ticket_was_forgotten_ends_at_once_and_the_new_run_keeps_its_batch(
    make_member, quota, broker_messages
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (oh_id, forgotten))] = broker_messages()
    quota.client.delete(tickets.TICKET_KEY.format(pk=member.pk))
    with a_minute_later():
        dispatch(quota)
        [_, (_, _, (_, current))] = broker_messages()

        assert process_moves.apply(args=(oh_id, forgotten)).get() == "no batch"

        member.refresh_from_db()
        assert member.lease_token == "" or member.lease_until < timezone.now()
        assert tickets.claim(quota.client, member.pk, current["ticket"]) == Batch(
            minute=quota.certain_minute(), size=40
        )


def test_a_run_preparing_under_the_lease_has_its_lapsed_ticket_renewed(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    # The run started and reads tokens, files and its local history as the minute ends.
    member.claim_lease(60, "here")
    with a_minute_later():
        report = dispatch(quota)
        assert [(allotment.pk, allotment.size) for allotment in report.sent] == [(member.pk, 40)]
        ticket = tickets.RunTicket(quota, member.pk, queued_with["ticket"])
        assert ticket.claim() == Batch(minute=quota.certain_minute(), size=40)
        assert len(broker_messages()) == 1


def test_a_run_claiming_a_lapsed_ticket_waits_for_the_windows_dispatch_to_renew_it(
    make_member, quota, broker_messages
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    member.claim_lease(60, "here")
    with a_minute_later():
        ticket = tickets.RunTicket(quota, member.pk, queued_with["ticket"])

        def renew_as_the_dispatcher_does() -> None:
            held = tickets.held(quota.client, [member.pk])[member.pk]
            lapsed = tickets.renew(quota.client, member.pk, held, quota.reserve(40))
            quota.give_back(lapsed)

        timer = threading.Timer(0.1, renew_as_the_dispatcher_does)
        timer.start()
        try:
            batch = ticket.claim()
        finally:
            timer.join()
        assert batch == Batch(minute=quota.certain_minute(), size=40)


def test_a_lapsed_ticket_in_a_full_window_is_claimed_at_once_and_its_batch_goes_back(
    make_member, quota, broker_messages, monkeypatch
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, queued_with)] = [args for _, _, args in broker_messages()]
    member.claim_lease(60, "here")
    with a_minute_later():
        now = time.time()
        # Another app's use filled this minute: the ticket cannot be renewed.
        quota.observe(server_headers(minute_used=60, hour_used=100, at=now), now, now)
        assert dispatch(quota).sent == []
        waits: list[float] = []
        monkeypatch.setattr(tickets.time, "sleep", waits.append)
        lapsed = tickets.RunTicket(quota, member.pk, queued_with["ticket"]).claim()
        assert waits == []
        assert lapsed == Batch(minute=queued_with["minute"], size=40)
        assert quota.take(lapsed) is False
        assert quota.give_back(lapsed) == 40
        assert quota.client.sismember(tickets.TICKETS_SET, member.pk) == 0


def test_a_run_that_ends_without_claiming_its_ticket_gives_its_batch_back(
    make_member, quota, broker_messages
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    ticket = tickets.RunTicket(quota, member.pk, queued_with["ticket"])
    assert ticket.release() == Batch(minute=quota.certain_minute(), size=40)
    assert ticket.release() is None and ticket.claim() is None


def test_a_run_that_finds_its_member_busy_gives_its_claimed_batch_back(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (oh_id, queued_with))] = broker_messages()
    member.claim_lease(60, "elsewhere")
    assert process_moves.apply(args=(oh_id, queued_with)).get() == "busy"
    assert quota.free() == quota.minute.limit
    assert quota.client.get(tickets.TICKET_KEY.format(pk=member.pk)) is None


def test_a_run_that_died_after_taking_its_ticket_is_replaced_once_its_lease_ends(
    make_member, quota, broker_messages
):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    lease = member.claim_lease(60, "here")
    assert tickets.RunTicket(quota, member.pk, queued_with["ticket"]).start()
    # Preparing under the lease, with a batch of this window: left alone.
    assert dispatch(quota).sent == []
    # The process is killed; its lease ends without the ticket being claimed.
    member.release_lease(lease)
    report = dispatch(quota)
    assert [(allotment.pk, allotment.size) for allotment in report.sent] == [(member.pk, 40)]
    runs = broker_messages()
    assert len(runs) == 2
    assert tickets.claim(quota.client, member.pk, queued_with["ticket"]) is None
    assert tickets.claim(quota.client, member.pk, runs[1][2][1]["ticket"]) is not None
    assert hour_used(quota) == 40


def test_a_ticket_taken_by_its_run_keeps_its_mark_when_renewed(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    [(_, _, (_, queued_with))] = broker_messages()
    member.claim_lease(60, "here")
    assert tickets.RunTicket(quota, member.pk, queued_with["ticket"]).start()
    with a_minute_later():
        dispatch(quota)
        ticket = tickets.held(quota.client, [member.pk])[member.pk]
        assert (ticket.id, ticket.started, ticket.batch.minute) == (
            queued_with["ticket"],
            True,
            quota.certain_minute(),
        )


def test_a_replaced_ticket_cannot_be_taken_by_the_older_run(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    [(oh_id, queued_with)] = [args for _, _, args in broker_messages()]
    quota.client.delete(tickets.TICKET_KEY.format(pk=member.pk))
    with a_minute_later():
        dispatch(quota)
        assert not tickets.RunTicket(quota, member.pk, queued_with["ticket"]).start()
        assert process_moves.apply(args=(oh_id, queued_with)).get() == "no batch"


def test_a_second_delivery_of_a_run_leaves_the_first_ones_ticket_alone(make_member, quota, broker_messages):
    member = backfilling(make_member)
    dispatch(quota)
    [(oh_id, queued_with)] = [args for _, _, args in broker_messages()]
    member.claim_lease(60, "first delivery")
    first = tickets.RunTicket(quota, member.pk, queued_with["ticket"])
    assert first.start()

    assert process_moves.apply(args=(oh_id, queued_with)).get() == "busy"

    assert first.claim() == Batch(minute=quota.certain_minute(), size=40)
