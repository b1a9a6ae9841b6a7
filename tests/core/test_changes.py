"""Changes Moves told us about, turned into the member's own weeks to fetch again."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from core.changes import Span, local_dates, record_changes
from core.models import MovesMember, PendingWeek, Priority

# Wednesday 15 May 2024, afternoon in Europe, morning in California.
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)
MOVES_ID = 38219005417261183


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def moves(make_member) -> MovesMember:
    return make_member(
        "10000001",
        moves_id=MOVES_ID,
        time_zone="America/Los_Angeles",
        first_date=date(2024, 1, 10),
        status=MovesMember.Status.CURRENT,
        requests_wanted=0,
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def pending(member: MovesMember) -> list[date]:
    return list(PendingWeek.objects.filter(moves_member=member).values_list("monday", flat=True))


def test_local_dates_are_the_members_dates_of_a_utc_span():
    # 02:00 to 09:00 UTC on Monday 11 March is Sunday evening to Monday morning in California.
    span = Span(utc(2024, 3, 11, 2), utc(2024, 3, 11, 9))

    assert local_dates(span, "America/Los_Angeles") == (date(2024, 3, 10), date(2024, 3, 11))
    assert local_dates(span, "Asia/Tokyo") == (date(2024, 3, 11), date(2024, 3, 11))


def test_local_dates_of_a_span_given_backwards_are_in_order():
    assert local_dates(Span(utc(2024, 3, 12), utc(2024, 3, 11)), "UTC") == (
        date(2024, 3, 11),
        date(2024, 3, 12),
    )


@pytest.mark.parametrize("zone", ["", "Nowhere/Special"])
def test_local_dates_in_an_unknown_zone_are_utc_dates(zone):
    assert local_dates(Span(utc(2024, 3, 11, 23), utc(2024, 3, 11, 23, 30)), zone) == (
        date(2024, 3, 11),
        date(2024, 3, 11),
    )


def test_record_changes_notes_the_weeks_of_the_members_own_calendar(moves):
    # Monday 11 March in UTC, still Sunday 10 March in California: the week of 4 March.
    added = record_changes(MOVES_ID, [Span(utc(2024, 3, 11, 2), utc(2024, 3, 11, 3))])

    assert added == 1
    assert pending(moves) == [date(2024, 3, 4)]


def test_record_changes_queues_the_member_for_those_weeks(moves):
    record_changes(MOVES_ID, [Span(utc(2024, 2, 1), utc(2024, 2, 14))])

    moves.refresh_from_db()
    assert pending(moves) == [date(2024, 1, 29), date(2024, 2, 5), date(2024, 2, 12)]
    assert (moves.last_notified_at, moves.sync_wanted_since, moves.sync_priority, moves.requests_wanted) == (
        NOW,
        NOW,
        Priority.UPDATE,
        3,
    )


def test_record_changes_clamps_spans_to_the_first_date_and_today(moves):
    record_changes(MOVES_ID, [Span(utc(2015, 1, 1), utc(2030, 1, 1))])

    weeks = pending(moves)
    # From the week of 10 January to the member's current week (15 May in California).
    assert (weeks[0], weeks[-1], len(weeks)) == (date(2024, 1, 8), date(2024, 5, 13), 19)


def test_record_changes_of_a_span_outside_the_history_adds_nothing(moves):
    assert record_changes(MOVES_ID, [Span(utc(2023, 5, 1), utc(2023, 5, 2))]) == 0
    assert record_changes(MOVES_ID, [Span(utc(2024, 6, 1), utc(2024, 6, 2))]) == 0

    assert pending(moves) == []


def test_record_changes_merges_many_notifications_of_one_week(moves):
    spans = [Span(utc(2024, 3, 5, hour), utc(2024, 3, 5, hour, 30)) for hour in range(5)]

    first = record_changes(MOVES_ID, spans)
    again = record_changes(MOVES_ID, [Span(utc(2024, 3, 7), utc(2024, 3, 8))])

    assert (first, again) == (1, 0)
    assert pending(moves) == [date(2024, 3, 4)]
    moves.refresh_from_db()
    assert moves.requests_wanted == 1


def test_record_changes_of_a_user_we_do_not_hold_is_none(moves):
    before = MovesMember.objects.filter(pk=moves.pk).values().get()

    assert record_changes(MOVES_ID + 1, [Span(utc(2024, 3, 5), utc(2024, 3, 6))]) is None

    assert MovesMember.objects.filter(pk=moves.pk).values().get() == before
    assert PendingWeek.objects.count() == 0


def test_record_changes_of_a_member_who_must_reconnect_is_none(moves):
    moves.require_reconnect("Moves", "Moves refused the refresh token.")

    assert record_changes(MOVES_ID, [Span(utc(2024, 3, 5), utc(2024, 3, 6))]) is None

    assert PendingWeek.objects.count() == 0


def test_record_changes_wakes_the_dispatcher_after_commit(moves, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        record_changes(MOVES_ID, [Span(utc(2024, 3, 5), utc(2024, 3, 6))])

    assert len(callbacks) == 1


def test_record_changes_in_the_members_zone_after_they_travelled(moves):
    MovesMember.objects.filter(pk=moves.pk).update(time_zone="Pacific/Auckland")

    # 20:00 UTC on Sunday 10 March is Monday morning in Auckland: the week of 11 March.
    record_changes(MOVES_ID, [Span(utc(2024, 3, 10, 20), utc(2024, 3, 10, 21))])

    assert pending(moves) == [date(2024, 3, 11)]


def test_spans_are_kept_apart_from_other_members(moves, make_member):
    other = make_member("10000002", moves_id=MOVES_ID + 7, first_date=date(2024, 1, 1))

    record_changes(MOVES_ID + 7, [Span(utc(2024, 3, 5), utc(2024, 3, 6))])

    assert (pending(moves), pending(other)) == ([], [date(2024, 3, 4)])
