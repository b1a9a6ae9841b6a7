"""The Moves member's transitions, each one conditional UPDATE, and the queries of the sync queue."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from apiclients.oauth import TokenGrant
from core.models import DifferentMovesAccount, MovesMember, PendingWeek, Priority
from open_humans.models import OpenHumansMember

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
Status = MovesMember.Status


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def later(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


def row(member: MovesMember) -> dict:
    """Every column of the member's row as stored now."""
    return MovesMember.objects.filter(pk=member.pk).values().get()


def fresh(member: MovesMember) -> MovesMember:
    return MovesMember.objects.get(pk=member.pk)


def signed_in_member(oh_id: str = "31415926") -> OpenHumansMember:
    user = get_user_model().objects.create_user(username=f"oh-{oh_id}")
    return OpenHumansMember.objects.create(user=user, oh_id=oh_id, access_token="a", refresh_token="r")


GRANT = TokenGrant("moves-access-new", "moves-refresh-new", 15551998, 777)


# --- connect ----------------------------------------------------------------------


def test_connect_a_new_member_stores_tokens_and_queues_the_first_batch(db, clock):
    oh_member = signed_in_member()

    MovesMember.connect(oh_member, GRANT)

    moves = MovesMember.objects.get(member=oh_member)
    assert (moves.access_token, moves.refresh_token, moves.token_expires, moves.moves_id) == (
        "moves-access-new",
        "moves-refresh-new",
        later(seconds=15551998),
        777,
    )
    assert (moves.status, moves.sync_priority, moves.sync_wanted_since, moves.requests_wanted) == (
        Status.NEW,
        Priority.FIRST,
        NOW,
        3,
    )
    assert moves.update_requested_at == NOW


def test_connect_again_mid_backfill_resumes_the_backfill_and_clears_the_trouble(make_member, clock):
    moves = make_member(
        moves_id=777,
        file_id=40330,
        backfill_next=date(2023, 1, 2),
        weeks_done=10,
        weeks_total=20,
        status=Status.NEEDS_RECONNECT,
        error_service="Moves",
        last_error="Moves refused the refresh token",
        last_error_at=ago(days=1),
        failures=3,
        reconnect_notified=True,
        not_before=later(hours=1),
        next_batch_at=later(minutes=5),
        requests_wanted=40,
    )

    MovesMember.connect(moves.member, GRANT)

    stored = fresh(moves)
    assert (stored.status, stored.sync_priority, stored.requests_wanted) == (
        Status.BACKFILLING,
        Priority.BACKFILL,
        40,
    )
    assert (stored.error_service, stored.last_error, stored.last_error_at, stored.failures) == (
        "",
        "",
        None,
        0,
    )
    assert (stored.reconnect_notified, stored.not_before, stored.next_batch_at) == (False, None, None)
    assert stored.refresh_token == "moves-refresh-new"


def test_connect_again_with_the_history_complete_asks_for_an_update(make_member, clock):
    moves = make_member(moves_id=777, file_id=40330, weeks_done=20, weeks_total=20, status=Status.FAILING)

    MovesMember.connect(moves.member, GRANT)

    stored = fresh(moves)
    assert (stored.status, stored.sync_priority, stored.update_requested_at) == (
        Status.CURRENT,
        Priority.UPDATE,
        NOW,
    )


def test_connect_keeps_the_members_place_in_the_queue(make_member, clock):
    moves = make_member(moves_id=777, sync_wanted_since=ago(hours=2))

    MovesMember.connect(moves.member, GRANT)

    assert fresh(moves).sync_wanted_since == ago(hours=2)


def test_connect_with_a_different_moves_account_stores_nothing(make_member):
    moves = make_member(moves_id=555, status=Status.NEEDS_RECONNECT)
    before = row(moves)

    with pytest.raises(DifferentMovesAccount) as refused:
        MovesMember.connect(moves.member, GRANT)

    assert refused.value.held_moves_id == 555
    assert row(moves) == before


def test_connect_without_a_user_id_in_the_grant_keeps_the_moves_id(make_member):
    moves = make_member(moves_id=555)

    MovesMember.connect(moves.member, TokenGrant("access", "refresh", 3600, None))

    assert (fresh(moves).moves_id, fresh(moves).refresh_token) == (555, "refresh")


@pytest.mark.django_db(transaction=True)
def test_connect_outside_a_transaction_takes_its_own_lock():
    # PostgreSQL refuses SELECT ... FOR UPDATE outside a transaction.
    oh_member = signed_in_member()

    MovesMember.connect(oh_member, GRANT)

    assert MovesMember.objects.get(member=oh_member).status == Status.NEW


# --- connection transitions ------------------------------------------------------------


def test_require_reconnect_stops_every_wait(make_member, clock):
    moves = make_member(
        sync_wanted_since=ago(hours=1), not_before=later(minutes=1), next_batch_at=later(minutes=1)
    )

    assert moves.require_reconnect("Moves", "Moves refused the refresh token.") is True

    stored = fresh(moves)
    assert (stored.status, stored.error_service, stored.last_error, stored.last_error_at) == (
        Status.NEEDS_RECONNECT,
        "Moves",
        "Moves refused the refresh token.",
        NOW,
    )
    assert (stored.sync_wanted_since, stored.not_before, stored.next_batch_at) == (None, None, None)
    assert (stored.is_connected, stored.has_tokens) == (False, True)


def test_told_to_reconnect_is_remembered(make_member):
    moves = make_member()

    moves.told_to_reconnect()

    assert fresh(moves).reconnect_notified is True


def test_forget_tokens_drops_the_moves_tokens_and_leaves_the_queue(make_member, clock):
    moves = make_member(sync_wanted_since=ago(hours=1), next_batch_at=later(minutes=1))

    moves.forget_tokens("You left the project on Open Humans.")

    stored = fresh(moves)
    assert (stored.access_token, stored.refresh_token, stored.token_expires) == ("", "", None)
    assert (stored.status, stored.error_service, stored.last_error, stored.last_error_at) == (
        Status.NEEDS_RECONNECT,
        "Open Humans",
        "You left the project on Open Humans.",
        NOW,
    )
    assert (stored.sync_wanted_since, stored.next_batch_at, stored.reconnect_notified) == (None, None, True)


# --- the queue: manual updates, retries, notifications ------------------------------------


def test_claim_manual_update_queues_an_update_ahead_of_backfills(make_member, clock):
    moves = make_member(status=Status.CURRENT, requests_wanted=0, sync_priority=Priority.BACKFILL)

    assert moves.claim_manual_update() is True

    stored = fresh(moves)
    assert (stored.last_submitted, stored.update_requested_at, stored.sync_wanted_since) == (NOW, NOW, NOW)
    assert (stored.sync_priority, stored.requests_wanted, stored.not_before) == (Priority.UPDATE, 2, None)
    assert moves.last_submitted == NOW


@pytest.mark.parametrize(
    "fields",
    [
        {"sync_wanted_since": NOW - timedelta(minutes=5)},
        {"lease_until": NOW + timedelta(seconds=30), "lease_token": "x" * 32},
        {"last_submitted": NOW - timedelta(minutes=59)},
        {"status": Status.NEEDS_RECONNECT},
        {"refresh_token": ""},
    ],
    ids=["queued", "running", "asked within the hour", "needs reconnect", "not connected"],
)
def test_claim_manual_update_refused_spends_nothing(make_member, clock, fields):
    moves = make_member(**fields)
    before = row(moves)

    assert moves.claim_manual_update() is False

    assert row(moves) == before


def test_claim_manual_update_after_the_interval_is_allowed(make_member, clock):
    moves = make_member(last_submitted=ago(minutes=61), lease_until=ago(seconds=1), lease_token="y" * 32)

    assert moves.claim_manual_update() is True


def test_claim_manual_update_of_an_open_humans_member_who_must_reconnect_is_refused(make_member):
    moves = make_member()
    OpenHumansMember.objects.filter(pk=moves.member_id).update(needs_reconnect=True)

    assert moves.claim_manual_update() is False


def test_claim_manual_update_lets_one_of_two_stale_copies_through(make_member):
    moves = make_member()
    # Two tabs that loaded the row before either wrote.
    first, second = fresh(moves), fresh(moves)

    assert [first.claim_manual_update(), second.claim_manual_update()] == [True, False]


@pytest.mark.parametrize("status", [Status.RETRYING, Status.FAILING])
def test_retry_now_clears_the_backoff(make_member, clock, status):
    moves = make_member(status=status, not_before=later(hours=6), sync_wanted_since=ago(hours=1))

    assert moves.retry_now() is True

    stored = fresh(moves)
    assert (stored.not_before, stored.sync_wanted_since, stored.last_submitted) == (None, ago(hours=1), NOW)


def test_retry_now_puts_a_member_who_left_the_queue_back(make_member, clock):
    moves = make_member(status=Status.FAILING, not_before=later(hours=6))

    assert moves.retry_now() is True

    assert fresh(moves).sync_wanted_since == NOW


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Status.CURRENT},
        {"status": Status.FAILING, "last_submitted": NOW - timedelta(minutes=10)},
        {"status": Status.NEEDS_RECONNECT},
    ],
    ids=["not failing", "asked within the hour", "needs reconnect"],
)
def test_retry_now_refused_changes_nothing(make_member, clock, fields):
    moves = make_member(not_before=later(hours=6), **fields)
    before = row(moves)

    assert moves.retry_now() is False

    assert row(moves) == before


def test_notified_queues_the_weeks_with_an_updates_priority(make_member, clock):
    moves = make_member(sync_priority=Priority.SWEEP, requests_wanted=5)

    moves.notified(3)

    stored = fresh(moves)
    assert (
        stored.last_notified_at,
        stored.sync_wanted_since,
        stored.sync_priority,
        stored.requests_wanted,
    ) == (
        NOW,
        NOW,
        Priority.UPDATE,
        8,
    )


def test_notified_keeps_the_members_place_in_the_queue(make_member, clock):
    moves = make_member(sync_wanted_since=ago(hours=3), sync_priority=Priority.BACKFILL)

    moves.notified(1)

    assert (fresh(moves).sync_wanted_since, fresh(moves).sync_priority) == (ago(hours=3), Priority.UPDATE)


# --- leases -------------------------------------------------------------------------


def test_claim_lease_takes_the_member_for_one_run(make_member, clock):
    moves = make_member()

    lease = moves.claim_lease(90, "worker.1")

    assert len(lease) == 32
    stored = fresh(moves)
    assert (stored.lease_token, stored.lease_until, stored.worker_home) == (
        lease,
        later(seconds=90),
        "worker.1",
    )
    assert stored.is_running is True


def test_claim_lease_while_another_run_holds_it_is_refused(make_member, clock):
    moves = make_member()
    moves.claim_lease(90, "worker.1")

    assert fresh(moves).claim_lease(90, "worker.2") is None

    assert fresh(moves).worker_home == "worker.1"


def test_claim_lease_after_it_expired_takes_it_over(make_member, clock):
    moves = make_member()
    first = moves.claim_lease(90, "worker.1")
    clock.shift(timedelta(seconds=91))

    second = fresh(moves).claim_lease(90, "worker.2")

    assert second not in (None, first)
    assert fresh(moves).lease_token == second


def test_extend_lease_only_with_the_lease_held(make_member, clock):
    moves = make_member()
    lease = moves.claim_lease(90, "worker.1")
    clock.shift(timedelta(seconds=60))

    assert (moves.extend_lease("not-the-lease", 90), moves.extend_lease(lease, 90)) == (False, True)

    assert fresh(moves).lease_until == later(seconds=150)


def test_release_lease_only_with_the_lease_held(make_member, clock):
    moves = make_member()
    lease = moves.claim_lease(90, "worker.1")

    moves.release_lease("not-the-lease")
    assert fresh(moves).lease_token == lease

    moves.release_lease(lease)
    assert (fresh(moves).lease_token, fresh(moves).lease_until) == ("", None)


# --- a run's outcome ------------------------------------------------------------------


@pytest.fixture
def running(make_member) -> Callable[..., tuple[MovesMember, str]]:
    """A member with ``fields`` whose run holds the lease: (member, lease)."""

    def start(**fields) -> tuple[MovesMember, str]:
        moves = make_member(**fields)
        return moves, moves.claim_lease(90, "worker.1")

    return start


def test_saw_profile_stores_the_first_date_and_zone(running):
    moves, lease = running()

    assert moves.saw_profile(lease, date(2016, 6, 13), None) is True

    assert (fresh(moves).first_date, fresh(moves).time_zone) == (date(2016, 6, 13), "")


def test_record_progress_with_history_left_is_backfilling(running):
    moves, lease = running(status=Status.NEW, sync_priority=Priority.FIRST, failures=2, not_before=NOW)

    moves.record_progress(
        lease,
        backfill_next=date(2016, 8, 1),
        weeks_done=8,
        weeks_total=100,
        requests_wanted=92,
        backfill_done=False,
    )

    stored = fresh(moves)
    assert (
        stored.status,
        stored.sync_priority,
        stored.backfill_next,
        stored.weeks_done,
        stored.weeks_total,
    ) == (
        Status.BACKFILLING,
        Priority.BACKFILL,
        date(2016, 8, 1),
        8,
        100,
    )
    assert (stored.requests_wanted, stored.failures, stored.not_before) == (92, 0, None)


def test_record_progress_with_the_backfill_done_keeps_the_status(running):
    moves, lease = running(status=Status.RETRYING, sync_priority=Priority.UPDATE)

    moves.record_progress(
        lease, backfill_next=None, weeks_done=100, weeks_total=100, requests_wanted=0, backfill_done=True
    )

    assert (fresh(moves).status, fresh(moves).sync_priority) == (Status.RETRYING, Priority.UPDATE)


def test_waiting_for_quota_says_when_the_next_batch_starts(running):
    moves, lease = running()

    moves.waiting_for_quota(lease, later(seconds=40))

    assert fresh(moves).next_batch_at == later(seconds=40)


def test_finish_sync_complete_and_recent_makes_the_member_current_and_leaves_the_queue(running, clock):
    moves, lease = running(
        status=Status.RETRYING,
        failures=2,
        error_service="Moves",
        last_error="timed out",
        sync_wanted_since=ago(minutes=5),
        update_requested_at=ago(minutes=5),
        next_batch_at=ago(minutes=1),
        requests_wanted=4,
    )

    moves.finish_sync(lease, ago(minutes=1), recent_fetched=True, complete=True, more_wanted=0)

    stored = fresh(moves)
    assert (stored.status, stored.last_updated, stored.next_batch_at) == (
        Status.CURRENT,
        ago(minutes=1),
        None,
    )
    assert (stored.failures, stored.error_service, stored.last_error) == (0, "", "")
    assert (stored.update_requested_at, stored.sync_wanted_since, stored.requests_wanted) == (None, None, 0)


def test_finish_sync_keeps_an_update_asked_for_during_the_run(running, clock):
    moves, lease = running(sync_wanted_since=ago(minutes=5), update_requested_at=ago(seconds=10))

    moves.finish_sync(lease, ago(minutes=1), recent_fetched=True, complete=True, more_wanted=0)

    stored = fresh(moves)
    assert (stored.update_requested_at, stored.sync_wanted_since, stored.requests_wanted) == (
        ago(seconds=10),
        ago(minutes=5),
        2,
    )


def test_finish_sync_keeps_a_member_with_a_notified_week_waiting_queued(running, clock):
    moves, lease = running(sync_wanted_since=ago(minutes=5))
    PendingWeek.objects.create(moves_member=moves, monday=date(2024, 2, 5))

    moves.finish_sync(lease, ago(minutes=1), recent_fetched=True, complete=True, more_wanted=0)

    assert fresh(moves).sync_wanted_since == ago(minutes=5)


def test_finish_sync_of_a_backfill_in_progress_is_not_current_yet(running, clock):
    moves, lease = running(
        status=Status.BACKFILLING, sync_wanted_since=ago(minutes=5), update_requested_at=ago(minutes=5)
    )

    moves.finish_sync(lease, ago(minutes=1), recent_fetched=True, complete=False, more_wanted=30)

    stored = fresh(moves)
    assert (stored.status, stored.last_updated, stored.update_requested_at) == (
        Status.BACKFILLING,
        None,
        None,
    )
    assert (stored.sync_wanted_since, stored.requests_wanted) == (ago(minutes=5), 30)


def test_finish_sync_that_completed_the_history_asks_for_the_recent_weeks_next(running, clock):
    moves, lease = running(status=Status.BACKFILLING, sync_wanted_since=ago(minutes=5))

    moves.finish_sync(
        lease, ago(minutes=1), recent_fetched=False, complete=True, completed_now=True, more_wanted=0
    )

    stored = fresh(moves)
    assert (stored.status, stored.update_requested_at, stored.sync_priority) == (
        Status.BACKFILLING,
        NOW,
        Priority.UPDATE,
    )
    # The update fetches the previous and the current week: two requests, not one.
    assert (stored.sync_wanted_since, stored.requests_wanted) == (ago(minutes=5), 2)


def test_record_failure_retries_with_a_growing_backoff(running, clock):
    moves, lease = running(failures=1)

    moves.record_failure(lease, "Moves", "Moves is not answering (HTTP 503).")

    stored = fresh(moves)
    assert (stored.status, stored.failures, stored.not_before, stored.sync_wanted_since) == (
        Status.RETRYING,
        2,
        later(seconds=60),
        NOW,
    )
    assert (stored.error_service, stored.last_error, stored.last_error_at) == (
        "Moves",
        "Moves is not answering (HTTP 503).",
        NOW,
    )


def test_record_failure_the_fifth_in_a_row_is_failing(running, clock):
    moves, lease = running(failures=4, sync_wanted_since=ago(hours=1))

    moves.record_failure(lease, "Open Humans", "Open Humans refused the upload.")

    stored = fresh(moves)
    assert (stored.status, stored.failures, stored.not_before, stored.sync_wanted_since) == (
        Status.FAILING,
        5,
        later(hours=6),
        ago(hours=1),
    )


def test_record_failure_permanent_is_failing_at_once(running, clock):
    moves, lease = running()

    moves.record_failure(lease, "Moves", "Moves refused the request (HTTP 400).", permanent=True)

    assert (fresh(moves).status, fresh(moves).not_before) == (Status.FAILING, later(hours=6))


def test_mark_failing_needs_no_lease(make_member, clock):
    moves = make_member()

    assert moves.mark_failing("Moves", "The profile has no first day.") is True

    assert (fresh(moves).status, fresh(moves).failures, fresh(moves).last_error) == (
        Status.FAILING,
        1,
        "The profile has no first day.",
    )


def test_record_pending_then_completed_upload(running, clock):
    moves, lease = running()

    moves.record_pending_upload(lease, 40331)
    assert fresh(moves).pending_file_id == 40331

    moves.record_upload(
        lease,
        file_id=40331,
        size=1234,
        sha256="ab" * 32,
        days=70,
        first_day=date(2024, 3, 7),
        last_day=NOW.date(),
    )

    stored = fresh(moves)
    assert (
        stored.file_id,
        stored.file_size,
        stored.file_sha256,
        stored.uploaded_at,
        stored.pending_file_id,
    ) == (
        40331,
        1234,
        "ab" * 32,
        NOW,
        None,
    )
    assert (stored.days_held, stored.first_day_held, stored.last_day_held) == (
        70,
        date(2024, 3, 7),
        NOW.date(),
    )


def test_record_upload_remembers_the_file_it_replaced_until_its_delete_is_confirmed(running):
    moves, lease = running(file_id=40330)

    moves.record_upload(lease, file_id=40331, size=1, sha256="ef" * 32, days=1, first_day=None, last_day=None)
    assert (fresh(moves).file_id, fresh(moves).obsolete_file_id) == (40331, 40330)

    moves.forget_obsolete_file(lease)
    assert fresh(moves).obsolete_file_id is None


def test_record_file_names_the_file_found_on_open_humans(running):
    moves, lease = running(file_id=1, file_sha256="cd" * 32, pending_file_id=2)

    moves.record_file(lease, None)

    assert (fresh(moves).file_id, fresh(moves).file_sha256, fresh(moves).pending_file_id) == (None, "", None)


def test_sweep_progress_moves_on_then_finishes(running, clock):
    moves, lease = running(sweep_from=date(2016, 6, 13), sweep_since=ago(days=7))

    moves.sweep_progress(lease, date(2016, 7, 13), ago(minutes=1))
    assert (fresh(moves).sweep_from, fresh(moves).last_sweep_at) == (date(2016, 7, 13), None)

    moves.sweep_progress(lease, None, ago(minutes=1))
    assert (fresh(moves).sweep_from, fresh(moves).sweep_since, fresh(moves).last_sweep_at) == (
        None,
        None,
        ago(minutes=1),
    )


# --- a lost lease writes nothing, a deleted row is never written again -----------------------

UNDER_LEASE: dict[str, Callable[[MovesMember, str], object]] = {
    "saw_profile": lambda m, lease: m.saw_profile(lease, date(2016, 6, 13), "Europe/Berlin"),
    "record_progress": lambda m, lease: m.record_progress(
        lease,
        backfill_next=date(2016, 8, 1),
        weeks_done=8,
        weeks_total=9,
        requests_wanted=1,
        backfill_done=False,
    ),
    "waiting_for_quota": lambda m, lease: m.waiting_for_quota(lease, NOW),
    "finish_sync": lambda m, lease: m.finish_sync(
        lease, NOW, recent_fetched=True, complete=True, more_wanted=0
    ),
    "record_failure": lambda m, lease: m.record_failure(lease, "Moves", "timed out"),
    "require_reconnect": lambda m, lease: m.require_reconnect("Moves", "refused", lease),
    "record_pending_upload": lambda m, lease: m.record_pending_upload(lease, 9),
    "record_upload": lambda m, lease: m.record_upload(
        lease, file_id=9, size=1, sha256="0" * 64, days=1, first_day=None, last_day=None
    ),
    "record_file": lambda m, lease: m.record_file(lease, 9, "0" * 64),
    "sweep_progress": lambda m, lease: m.sweep_progress(lease, None, NOW),
    "forget_obsolete_file": lambda m, lease: m.forget_obsolete_file(lease),
    "extend_lease": lambda m, lease: m.extend_lease(lease, 90),
}


@pytest.mark.parametrize("transition", list(UNDER_LEASE))
def test_a_run_whose_lease_passed_to_another_writes_nothing(make_member, clock, transition):
    moves = make_member(
        sync_wanted_since=ago(minutes=5), update_requested_at=ago(minutes=5), status=Status.BACKFILLING
    )
    lost = moves.claim_lease(90, "worker.1")
    clock.shift(timedelta(seconds=91))
    assert fresh(moves).claim_lease(90, "worker.2") is not None
    before = row(moves)

    written = UNDER_LEASE[transition](moves, lost)

    assert written is False
    assert row(moves) == before


EVERY_WRITE: dict[str, Callable[[MovesMember, str], object]] = {
    **UNDER_LEASE,
    "claim_lease": lambda m, lease: m.claim_lease(90, "worker.2"),
    "release_lease": lambda m, lease: m.release_lease(lease),
    "claim_manual_update": lambda m, lease: m.claim_manual_update(),
    "retry_now": lambda m, lease: m.retry_now(),
    "notified": lambda m, lease: m.notified(2),
    "told_to_reconnect": lambda m, lease: m.told_to_reconnect(),
    "forget_tokens": lambda m, lease: m.forget_tokens("left"),
    "mark_failing": lambda m, lease: m.mark_failing("Moves", "broken"),
    "require_reconnect without a lease": lambda m, lease: m.require_reconnect("Moves", "refused"),
}


@pytest.mark.parametrize("transition", list(EVERY_WRITE))
def test_a_disconnected_member_is_never_written_back(make_member, transition):
    moves = make_member(status=Status.FAILING)
    lease = moves.claim_lease(90, "worker.1")
    # The member disconnects while a run (or a page) still holds the object.
    MovesMember.objects.filter(pk=moves.pk).delete()

    written = EVERY_WRITE[transition](moves, lease)

    assert written in (None, False)
    assert MovesMember.objects.count() == 0


# --- queries -------------------------------------------------------------------------------


def test_syncable_leaves_out_every_member_who_cannot_be_synced(make_member):
    good = make_member("10000001")
    make_member("10000002", refresh_token="")
    make_member("10000003", status=Status.NEEDS_RECONNECT)
    make_member("10000004").member.refresh_refused()
    no_oh_token = make_member("10000005")
    OpenHumansMember.objects.filter(pk=no_oh_token.member_id).update(refresh_token="")

    assert list(MovesMember.objects.syncable()) == [good]


def test_waiting_orders_by_priority_then_arrival_then_id(make_member, clock):
    backfill = make_member("10000001", sync_priority=Priority.BACKFILL, sync_wanted_since=ago(hours=3))
    late_update = make_member("10000002", sync_priority=Priority.UPDATE, sync_wanted_since=ago(hours=1))
    first = make_member("10000003", sync_priority=Priority.FIRST, sync_wanted_since=ago(hours=2))
    early_update = make_member("10000004", sync_priority=Priority.UPDATE, sync_wanted_since=ago(hours=2))
    tie = make_member("10000005", sync_priority=Priority.UPDATE, sync_wanted_since=ago(hours=2))
    sweep = make_member("10000006", sync_priority=Priority.SWEEP, sync_wanted_since=ago(days=1))

    assert list(MovesMember.objects.waiting()) == [early_update, tie, late_update, first, backfill, sweep]


def test_waiting_leaves_out_the_unqueued_the_backing_off_the_running_and_the_unsyncable(make_member, clock):
    wanted = ago(hours=1)
    make_member("10000001")
    make_member("10000002", sync_wanted_since=wanted, not_before=later(seconds=1))
    make_member("10000003", sync_wanted_since=wanted, lease_until=NOW, lease_token="z" * 32)
    make_member("10000004", sync_wanted_since=wanted, status=Status.NEEDS_RECONNECT)
    backed_off = make_member("10000005", sync_wanted_since=wanted, not_before=NOW)
    lease_ran_out = make_member("10000006", sync_wanted_since=wanted, lease_until=ago(seconds=1))

    assert list(MovesMember.objects.waiting()) == [backed_off, lease_ran_out]


def test_running_is_every_member_with_a_live_lease(make_member, clock):
    live = make_member("10000001", lease_until=NOW)
    make_member("10000002", lease_until=ago(seconds=1))
    make_member("10000003")

    assert list(MovesMember.objects.running()) == [live]


def test_stale_is_never_updated_or_updated_before_the_cutoff(make_member, clock):
    never = make_member("10000001")
    old = make_member("10000002", last_updated=ago(hours=21))
    make_member("10000003", last_updated=ago(hours=19))
    make_member("10000004", last_updated=ago(days=9), refresh_token="")

    assert set(MovesMember.objects.stale(NOW, timedelta(hours=20))) == {never, old}


def test_request_updates_keeps_each_members_place_and_takes_the_updates_priority(make_member, clock):
    waiting = make_member(
        "10000001", sync_wanted_since=ago(hours=3), sync_priority=Priority.BACKFILL, requests_wanted=40
    )
    idle = make_member("10000002", sync_priority=Priority.BACKFILL)

    assert MovesMember.objects.all().request_updates() == 2

    assert (
        fresh(waiting).sync_wanted_since,
        fresh(waiting).sync_priority,
        fresh(waiting).requests_wanted,
    ) == (
        ago(hours=3),
        Priority.UPDATE,
        40,
    )
    assert (fresh(idle).sync_wanted_since, fresh(idle).requests_wanted, fresh(idle).update_requested_at) == (
        NOW,
        2,
        NOW,
    )


def test_start_sweeps_checks_from_the_first_day_for_changes_since_the_last_sweep(make_member, clock):
    swept = make_member("10000001", first_date=date(2016, 6, 13), last_sweep_at=ago(days=8))
    never = make_member("10000002", first_date=date(2017, 1, 2))
    MovesMember.objects.filter(pk=never.pk).update(created=ago(days=9))

    assert MovesMember.objects.all().start_sweeps() == 2

    assert (fresh(swept).sweep_from, fresh(swept).sweep_since, fresh(swept).sync_wanted_since) == (
        date(2016, 6, 13),
        ago(days=8),
        NOW,
    )
    assert (fresh(never).sweep_from, fresh(never).sweep_since, fresh(never).requests_wanted) == (
        date(2017, 1, 2),
        ago(days=9),
        1,
    )


def test_start_sweeps_of_an_idle_member_queues_at_the_sweeps_priority(make_member, clock):
    # The priority of the member's last sync (an update) is still on the row.
    idle = make_member("10000001", first_date=date(2016, 6, 13), sync_priority=Priority.UPDATE)

    MovesMember.objects.all().start_sweeps()

    assert fresh(idle).sync_priority == Priority.SWEEP


def test_start_sweeps_of_a_waiting_member_keeps_its_place_and_priority(make_member, clock):
    waiting = make_member(
        "10000001",
        first_date=date(2016, 6, 13),
        sync_priority=Priority.UPDATE,
        sync_wanted_since=ago(hours=1),
    )

    MovesMember.objects.all().start_sweeps()

    assert (fresh(waiting).sync_priority, fresh(waiting).sync_wanted_since) == (Priority.UPDATE, ago(hours=1))


# --- what pages read -----------------------------------------------------------------------


def test_next_manual_update_at_is_an_hour_after_the_last(make_member, clock):
    assert make_member("10000001").next_manual_update_at() is None
    assert make_member("10000002", last_submitted=ago(minutes=20)).next_manual_update_at() == later(
        minutes=40
    )
    assert make_member("10000003", last_submitted=ago(minutes=61)).next_manual_update_at() is None


def test_next_try_at_only_for_a_member_in_trouble(make_member, clock):
    assert make_member(
        "10000001", status=Status.RETRYING, not_before=later(minutes=1)
    ).next_try_at() == later(minutes=1)
    assert make_member("10000002", status=Status.CURRENT, not_before=later(minutes=1)).next_try_at() is None
