"""Answers and files that are not what they should be: each ends in a truthful state, and nothing is lost.

Driven against the stand-ins: a garbled Moves answer is tried again a
bounded number of times, a file on Open Humans that cannot be read is kept
as it is and the member is told, a file with entries that are not days is
repaired, and an account without data is simply up to date.
"""

import json
from datetime import timedelta

from core.models import MovesMember
from sandbox import testing
from tests.connected import dispatch_until, settle


def test_a_garbled_storyline_answer_is_tried_again_and_then_the_history_completes(connect, settings):
    # Half a second (scaled) of backoff, so the retrying state can be seen before the retry.
    settings.RETRY_BACKOFF_SECONDS = 5
    person = connect(days=30)
    testing.add_fault("moves.storyline", malformed=True, count=1)
    dispatch_until(lambda: person.refresh().failures > 0)
    member = person.refresh()
    assert (member.status, member.error_service, member.last_error) == (
        MovesMember.Status.RETRYING,
        "Moves",
        "Moves sent an answer we could not read.",
    )
    member = settle(member)
    assert member.status == MovesMember.Status.CURRENT
    assert person.file_days() == person.moves_days()


def test_a_garbled_profile_is_tried_again(connect, settings):
    settings.RETRY_BACKOFF_SECONDS = 0
    person = connect(days=10)
    testing.add_fault("moves.profile", malformed=True, count=1)
    member = settle(person.member)
    assert (member.status, person.file_days()) == (MovesMember.Status.CURRENT, person.moves_days())


def test_an_answer_that_stays_garbled_ends_in_failing_with_a_next_try(connect, settings):
    settings.RETRY_BACKOFF_SECONDS = 0
    settings.RETRY_MAX_FAILURES = 3
    person = connect(days=10)
    testing.add_fault("moves.storyline", malformed=True, count=100)
    dispatch_until(lambda: person.refresh().status == MovesMember.Status.FAILING)
    member = person.refresh()
    assert member.failures == 3
    assert member.next_try_at() is not None
    assert member.next_try_at() - member.last_error_at >= timedelta(
        seconds=settings.FAILING_RETRY_SECONDS / 10 - 1
    )


def test_an_unreadable_file_on_open_humans_is_kept_and_the_member_told(connect, work_dir):
    import shutil

    person = connect(days=20)
    member = settle(person.member)
    (ours,) = testing.stored_files(person.oh)
    testing.replace_file_bytes(ours, b'[{"date": "20200101", "summary"')
    shutil.rmtree(work_dir)
    member.claim_manual_update()
    dispatch_until(lambda: person.refresh().status == MovesMember.Status.FAILING)
    member = person.refresh()
    assert member.last_error.startswith("your Moves file on Open Humans could not be read")
    assert testing.read_file_bytes(ours) == b'[{"date": "20200101", "summary"'
    assert [file.pk for file in testing.stored_files(person.oh)] == [ours.pk]


def test_a_file_with_entries_that_are_not_days_is_repaired_on_the_next_upload(connect, work_dir):
    import shutil

    person = connect(days=20)
    member = settle(person.member)
    (ours,) = testing.stored_files(person.oh)
    days = json.loads(testing.read_file_bytes(ours))
    # What an older uploader left: an API error body among the days, and days out of order.
    testing.replace_file_bytes(ours, json.dumps([days[3], {"error": "rate limited"}, *days]).encode())
    shutil.rmtree(work_dir)
    member.claim_manual_update()
    settle(member)
    assert person.file_days() == person.moves_days()


def test_an_account_that_recorded_nothing_yet_is_up_to_date_with_no_file(connect_user):
    user = testing.create_moves_user("empty", days=1)
    # Its profile has no firstDate and its storyline no days.
    user.first_date = None
    user.save(update_fields=["first_date"])
    person = connect_user(user)
    member = settle(person.member)
    assert (member.status, member.file_id, member.first_date) == (MovesMember.Status.CURRENT, None, None)
