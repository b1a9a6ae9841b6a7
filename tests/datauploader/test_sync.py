"""process_moves against the stand-in Moves and Open Humans, served on their own origin.

Runs happen inline (eager tasks) whenever the dispatcher hands out quota, so
each test drives the dispatcher until the member wants nothing more.
"""

import shutil
from datetime import date, timedelta

import pytest

from core.calendar import ONE_WEEK, monday_of
from core.days import HAS_DATA, calendar
from core.models import MovesMember, RecentDay
from datauploader.history import LocalHistory
from sandbox import testing
from tests.connected import dispatch_until, edit_a_day, settle


def test_a_new_member_gets_their_whole_history_as_one_file(connect):
    person = connect(days=70)
    member = settle(person.member)
    assert member.status == MovesMember.Status.CURRENT
    assert person.file_days() == person.moves_days()
    assert (member.days_held, member.last_updated is not None, member.weeks_done) == (
        len(person.moves_days()),
        True,
        member.weeks_total,
    )
    held = sum(1 for year in calendar(member).values() for fact in year if fact.state == HAS_DATA)
    assert held == sum(1 for day in person.moves_days() if day.get("segments"))
    assert RecentDay.objects.filter(moves_member=member).count() > 0


def test_the_first_batch_brings_the_latest_weeks_first(connect, settings):
    person = connect(days=200)
    # Room for the first batch only: profile, current and previous week.
    settings.MOVES_REQUESTS_PER_MINUTE = 4
    dispatch_until(lambda: person.refresh().file_id is not None)
    member = person.refresh()
    days = [day["date"] for day in person.file_days()]
    # The current week first: the latest days Moves has, whole weeks back from there.
    assert days == [day["date"] for day in person.moves_days()][-len(days) :]
    assert date(int(days[0][:4]), int(days[0][4:6]), int(days[0][6:])).weekday() == 0
    assert len(days) <= 14
    assert member.status == MovesMember.Status.BACKFILLING


def test_the_run_that_ends_the_backfill_fetches_the_first_batchs_weeks_again_itself(
    connect, settings, caplog
):
    person = connect(days=100)
    settings.MOVES_REQUESTS_PER_MINUTE = 4
    dispatch_until(lambda: person.refresh().file_id is not None)
    # The first batch's weeks change after it fetched them.
    edit_a_day(person.user, date.today())
    settings.MOVES_REQUESTS_PER_MINUTE = 60
    caplog.clear()

    with caplog.at_level("INFO", logger="datauploader.tasks"):
        member = settle(person.member)

    runs = [
        record.getMessage() for record in caplog.records if record.getMessage().startswith("process_moves")
    ]
    assert len(runs) == 1, runs
    assert ": current;" in runs[0]
    assert member.status == MovesMember.Status.CURRENT
    assert member.update_requested_at is None
    assert person.file_days() == person.moves_days()


def test_an_update_fetches_the_recent_weeks_again_and_keeps_newer_copies(connect):
    person = connect(days=40)
    member = settle(person.member)
    edit_a_day(person.user, date.today() - timedelta(days=8))
    member.claim_manual_update()
    member = settle(member)
    assert person.file_days() == person.moves_days()
    assert member.status == MovesMember.Status.CURRENT


def test_a_notified_week_months_back_is_fetched_again(connect, caplog):
    person = connect(days=200)
    member = settle(person.member)
    edit_a_day(person.user, date.today() - timedelta(days=90))
    with testing.capture_deliveries() as captured:
        testing.flush_notifications()
    assert len(captured.posts) == 1
    from django.test import Client

    url, body, headers = captured.posts[0]
    assert url.endswith("/webhooks/moves/storyline/")
    caplog.clear()
    caplog.set_level("INFO", logger="datauploader.tasks")
    answer = Client().post(
        "/webhooks/moves/storyline/",
        data=body,
        content_type="application/json",
        headers={name: value for name, value in headers.items() if name.lower().startswith("x-moves")},
    )
    assert answer.status_code == 200
    member = settle(member)
    assert person.file_days() == person.moves_days()
    # That week alone: a targeted update costs no re-check of the recent weeks.
    runs = [
        record.getMessage() for record in caplog.records if record.getMessage().startswith("process_moves")
    ]
    assert [run.split(": ", 1)[1] for run in runs] == [
        "current; 1 requests in 1 batches, 1 weeks, 1 days changed, uploaded"
    ]


def test_a_rate_limited_answer_waits_for_the_window_and_loses_nothing(connect):
    person = connect(days=70)
    testing.add_fault("moves.storyline", status=429, count=1)
    member = settle(person.member)
    assert member.status == MovesMember.Status.CURRENT
    assert person.file_days() == person.moves_days()


def test_moves_failing_makes_the_member_retry_with_the_service_named(connect):
    person = connect(days=70)
    testing.add_fault("moves.storyline", status=503, count=1)
    dispatch_until(lambda: person.refresh().failures > 0)
    member = person.refresh()
    assert (member.status, member.error_service, member.failures) == (MovesMember.Status.RETRYING, "Moves", 1)
    assert member.last_error == "Moves is not answering right now."
    assert member.not_before is not None


def test_open_humans_refusing_the_upload_is_retried_and_ends_with_one_file(connect, settings):
    settings.RETRY_BACKOFF_SECONDS = 0
    person = connect(days=30)
    testing.add_fault("oh.upload_complete", status=500, count=1)
    member = settle(person.member)
    assert member.status == MovesMember.Status.CURRENT
    assert person.file_days() == person.moves_days()
    assert len(testing.stored_files(person.oh, include_incomplete=True)) == 1


def test_a_revoked_moves_token_asks_the_member_to_reconnect_once(connect):
    person = connect(days=30)
    testing.revoke_moves_tokens(person.user)
    dispatch_until(lambda: person.refresh().status == MovesMember.Status.NEEDS_RECONNECT)
    member = person.refresh()
    assert (member.status, member.error_service) == (MovesMember.Status.NEEDS_RECONNECT, "Moves")
    assert [message.subject for message in testing.messages_for(person.oh)] == ["Please reconnect Moves"]


def test_another_projects_file_of_the_same_name_is_never_touched(connect):
    person = connect(days=30)
    foreign = testing.share_other_source(person.oh)
    member = settle(person.member)
    assert member.status == MovesMember.Status.CURRENT
    foreign.refresh_from_db()
    assert foreign.completed_at is not None
    assert person.file_days() == person.moves_days()


def test_a_lost_local_copy_is_rebuilt_from_open_humans_without_uploading_again(connect, work_dir):
    person = connect(days=40)
    member = settle(person.member)
    uploaded = member.uploaded_at
    shutil.rmtree(work_dir)
    member.claim_manual_update()
    member = settle(member)
    assert person.file_days() == person.moves_days()
    assert member.uploaded_at == uploaded


def test_a_damaged_local_copy_is_rebuilt(connect, work_dir):
    person = connect(days=40)
    member = settle(person.member)
    week = next((work_dir / member.member.oh_id / "weeks").glob("*.days"))
    week.write_bytes(week.read_bytes()[:-20])
    member.claim_manual_update()
    member = settle(member)
    assert person.file_days() == person.moves_days()


def test_a_member_who_travels_is_read_again_in_their_new_zone(connect):
    person = connect(days=30, time_zone="America/Los_Angeles")
    member = settle(person.member)
    assert member.time_zone == "America/Los_Angeles"
    testing.change_time_zone(person.user, "Asia/Tokyo")
    member.claim_manual_update()
    member = settle(member)
    assert member.time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("days", [1, 3])
def test_a_history_younger_than_two_weeks_needs_no_backfill(connect, days):
    person = connect(days=days)
    member = settle(person.member)
    assert (member.status, person.file_days()) == (MovesMember.Status.CURRENT, person.moves_days())


def test_a_member_who_left_on_open_humans_must_sign_in_again(connect):
    person = connect(days=30)
    testing.member_leaves(person.oh)
    dispatch_until(lambda: person.refresh().status == MovesMember.Status.NEEDS_RECONNECT)
    member = person.refresh()
    assert (member.status, member.error_service) == (MovesMember.Status.NEEDS_RECONNECT, "Open Humans")
    assert member.member.needs_reconnect is True


def test_a_stopping_worker_uploads_what_it_fetched_since_the_last_upload(connect, settings):
    from datauploader.shutdown import flush_local_histories

    settings.UPLOAD_INTERVAL_SECONDS = 10**6
    settings.MOVES_REQUESTS_PER_MINUTE = 8
    person = connect(days=300)

    # The first file goes up at once; later weeks wait for the upload interval.
    dispatch_until(lambda: person.refresh().file_id is not None)
    first = person.member.days_held
    dispatch_until(lambda: LocalHistory.for_member(person.member.member.oh_id).state.dirty)
    assert person.refresh().days_held == first
    assert flush_local_histories() == 1
    assert person.refresh().days_held > first
    assert LocalHistory.for_member(person.member.member.oh_id).state.dirty is False


def test_weeks_fetched_but_never_uploaded_are_fetched_again_when_the_local_copy_is_lost(
    connect, settings, work_dir
):
    # A machine that died after fetching weeks it had not uploaded yet: the
    # next run finds only the file on Open Humans, and an older backfill_next.
    settings.UPLOAD_INTERVAL_SECONDS = 10**6
    settings.MOVES_REQUESTS_PER_MINUTE = 8
    person = connect(days=120)
    dispatch_until(lambda: person.refresh().file_id is not None)
    dispatch_until(lambda: LocalHistory.for_member(person.member.member.oh_id).state.dirty)
    shutil.rmtree(work_dir)
    settings.UPLOAD_INTERVAL_SECONDS = 0
    member = settle(person.refresh())
    assert member.status == MovesMember.Status.CURRENT
    assert person.file_days() == person.moves_days()


def test_weeks_fetched_before_any_upload_are_fetched_again_when_the_local_copy_is_lost(
    connect, settings, work_dir
):
    # No file yet: Open Humans refuses the uploads while the backfill goes on.
    settings.RETRY_BACKOFF_SECONDS = 0
    settings.MOVES_REQUESTS_PER_MINUTE = 8
    person = connect(days=120)
    testing.add_fault("oh.upload_direct", status=503, count=3)

    def weeks_fetched() -> bool:
        member = person.refresh()
        return member.backfill_next is not None and member.backfill_next > (
            monday_of(member.first_date) + 2 * ONE_WEEK
        )

    dispatch_until(weeks_fetched)
    assert person.refresh().file_id is None
    testing.clear_faults()
    shutil.rmtree(work_dir)
    member = settle(person.refresh())
    assert person.file_days() == person.moves_days()
    assert member.weeks_done == member.weeks_total
