"""Bad input from either API: one clear log line naming the member, and the last good file kept.

Each row of the table arranges one kind of bad input against the sandbox,
runs ``process_moves`` on 14 March 2018 and states what must follow.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import time_machine

from datauploader.tasks import process_moves
from datauploader.worklog import discard_log
from main.models import MovesMember
from sandbox import testing
from tests.sync.conftest import TODAY, Accounts, date_range, file_dates

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = date(2018, 2, 26)


def file_bytes(accounts: Accounts) -> dict[int, bytes]:
    return {stored.pk: testing.read_file_bytes(stored) for stored in testing.stored_files(accounts.oh_member)}


def sync_on(accounts: Accounts, day: date) -> None:
    with time_machine.travel(datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)):
        process_moves.apply(args=[accounts.oh_id]).get()


def held_a_week_ago(accounts: Accounts) -> None:
    sync_on(accounts, date(2018, 3, 7))


def damage_file(data: bytes) -> Callable[[Accounts], None]:
    def arrange(accounts: Accounts) -> None:
        held_a_week_ago(accounts)
        [stored] = testing.stored_files(accounts.oh_member)
        testing.replace_file_bytes(stored, data)
        # A worker without its own copy, so the file on Open Humans is read.
        discard_log(accounts.oh_id)

    return arrange


def with_error_bodies(accounts: Accounts) -> None:
    held_a_week_ago(accounts)
    [stored] = testing.stored_files(accounts.oh_member)
    days = json.loads(testing.read_file_bytes(stored))
    error = {"error": "rate limit exceeded", "code": 429}
    testing.replace_file_bytes(stored, json.dumps([error, *days[:5], error, *days[5:], error]).encode())
    discard_log(accounts.oh_id)


def out_of_order(accounts: Accounts) -> None:
    held_a_week_ago(accounts)
    [stored] = testing.stored_files(accounts.oh_member)
    days = json.loads(testing.read_file_bytes(stored))
    testing.replace_file_bytes(stored, json.dumps([*reversed(days), days[3]]).encode())
    discard_log(accounts.oh_id)


def gap_of_empty_weeks(accounts: Accounts) -> None:
    # The file ends on 1 February; Moves then answers nothing before 26 February.
    accounts.moves_user.first_date = date(2018, 1, 29)
    accounts.moves_user.save()
    sync_on(accounts, date(2018, 2, 1))
    accounts.moves_user.first_date = FIRST
    accounts.moves_user.save()


def history_ends_a_week_ago(accounts: Accounts) -> None:
    accounts.moves_user.last_date = date(2018, 3, 7)
    accounts.moves_user.save()
    held_a_week_ago(accounts)


def no_first_date(accounts: Accounts) -> None:
    accounts.moves_user.first_date = None
    accounts.moves_user.save()


@dataclass(frozen=True)
class Case:
    arrange: Callable[[Accounts], None]
    status: str
    # The one warning or error naming the member ("" when all is well).
    log: str
    # The dates Open Humans holds afterwards, one list per file.
    held: list[list[str]]
    # The file held before is untouched, byte for byte.
    untouched: bool = False


BEFORE = date_range(FIRST, date(2018, 3, 7))
ALL = date_range(FIRST, TODAY)
FAILING = MovesMember.Status.FAILING
CURRENT = MovesMember.Status.CURRENT

CASES = {
    "storyline is not JSON": Case(
        lambda a: (held_a_week_ago(a), testing.add_fault("moves.storyline", malformed=True)),
        FAILING,
        "unexpected answer from Moves",
        [BEFORE],
        untouched=True,
    ),
    "storyline is an error object with status 200": Case(
        lambda a: (held_a_week_ago(a), testing.add_fault("moves.storyline", status=200)),
        FAILING,
        "storyline is not a list",
        [BEFORE],
        untouched=True,
    ),
    "profile is not JSON": Case(
        lambda a: testing.add_fault("moves.profile", malformed=True), FAILING, "unexpected answer", []
    ),
    "profile has no firstDate": Case(no_first_date, FAILING, "has no firstDate", []),
    "existing file is truncated": Case(
        damage_file(b'[{"date":"20180226","summary":null,"segments":[{"type":"pl'),
        FAILING,
        "is unreadable",
        [],
        untouched=True,
    ),
    "existing file is not JSON": Case(
        damage_file(b"<html><body>502 Bad Gateway</body></html>"),
        FAILING,
        "is unreadable",
        [],
        untouched=True,
    ),
    "existing file is an object": Case(
        damage_file(b'{"detail": "Not found."}'), FAILING, "is unreadable", [], untouched=True
    ),
    "existing file holds API error bodies": Case(
        with_error_bodies, CURRENT, "left out 3 entries that are not days", [ALL]
    ),
    "existing file holds days out of order and twice": Case(
        out_of_order, CURRENT, "put days back in date order, once each", [ALL]
    ),
    "days with null summary and segments": Case(history_ends_a_week_ago, CURRENT, "", [ALL]),
    "empty weeks": Case(
        gap_of_empty_weeks, CURRENT, "", [date_range(date(2018, 1, 29), date(2018, 2, 1)) + ALL]
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, sandbox_accounts, caplog):
    case = CASES[name]
    accounts = sandbox_accounts("bad-" + name.replace(" ", "-")[:80], FIRST, 17)
    case.arrange(accounts)
    before = {
        stored.pk: testing.read_file_bytes(stored) for stored in testing.stored_files(accounts.oh_member)
    }
    caplog.clear()

    with caplog.at_level(logging.WARNING):
        sync_on(accounts, TODAY)

    member = MovesMember.objects.get(pk=accounts.member.pk)
    assert member.status == case.status
    naming = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and accounts.oh_id in record.getMessage()
    ]
    assert len(naming) == (1 if case.log else 0), naming
    assert case.log in "".join(naming)
    if case.untouched:
        after = {
            stored.pk: testing.read_file_bytes(stored) for stored in testing.stored_files(accounts.oh_member)
        }
        assert after == before
    else:
        assert file_dates(accounts.oh_member) == case.held
    if case.status == FAILING:
        assert member.last_error
    if case.held and case.untouched:
        assert file_dates(accounts.oh_member) == case.held


def test_null_days_are_kept_as_moves_sent_them(sandbox_accounts):
    accounts = sandbox_accounts("null-days", FIRST, 17)
    history_ends_a_week_ago(accounts)
    sync_on(accounts, TODAY)

    [stored] = testing.stored_files(accounts.oh_member)
    days = {day["date"]: day for day in json.loads(testing.read_file_bytes(stored))}
    assert days["20180310"] == {"date": "20180310", "summary": None, "segments": None}
    member = MovesMember.objects.get(pk=accounts.member.pk)
    # The preview ends at the last day with data.
    assert member.recent_days.last().date == date(2018, 3, 7)
