"""The member's own calendar: their local date, and the weeks an update fetches again."""

from datetime import UTC, date, datetime

import pytest

from core.calendar import member_today, weeks_between, weeks_in_history, weeks_to_update

# Late on Sunday 10 March 2024 in London: already Monday in Auckland, still Sunday afternoon in Los Angeles.
LATE_SUNDAY = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "today"),
    [
        ("Pacific/Auckland", date(2024, 3, 11)),
        ("America/Los_Angeles", date(2024, 3, 10)),
        ("Europe/Berlin", date(2024, 3, 11)),
        ("Europe/London", date(2024, 3, 10)),
        ("", date(2024, 3, 10)),
        ("Mars/Olympus_Mons", date(2024, 3, 10)),
        ("../../etc/passwd", date(2024, 3, 10)),
    ],
    ids=["ahead", "behind", "an hour ahead", "utc in winter", "unknown", "not a zone", "not a zone name"],
)
def test_member_today_is_the_date_in_their_zone(zone, today):
    assert member_today(zone, LATE_SUNDAY) == today


def test_weeks_between_are_the_mondays_of_every_week_touched():
    assert weeks_between(date(2024, 2, 29), date(2024, 3, 11)) == [
        date(2024, 2, 26),
        date(2024, 3, 4),
        date(2024, 3, 11),
    ]


def test_weeks_between_within_one_week_is_that_week():
    assert weeks_between(date(2024, 3, 13), date(2024, 3, 17)) == [date(2024, 3, 11)]


def test_weeks_between_backwards_is_empty():
    assert weeks_between(date(2024, 3, 18), date(2024, 3, 11)) == []


def test_weeks_to_update_are_the_previous_and_current_week():
    wednesday = date(2024, 3, 13)

    assert weeks_to_update(wednesday, date(2024, 3, 12), date(2020, 1, 1)) == [
        date(2024, 3, 4),
        date(2024, 3, 11),
    ]


def test_weeks_to_update_reach_back_to_a_last_success_long_ago():
    assert weeks_to_update(date(2024, 3, 13), date(2024, 2, 14), date(2020, 1, 1)) == [
        date(2024, 2, 12),
        date(2024, 2, 19),
        date(2024, 2, 26),
        date(2024, 3, 4),
        date(2024, 3, 11),
    ]


def test_weeks_to_update_never_start_before_the_first_date():
    assert weeks_to_update(date(2024, 3, 13), None, date(2024, 3, 12)) == [date(2024, 3, 11)]


def test_weeks_to_update_with_a_last_success_before_the_first_date_start_at_the_first_date():
    assert weeks_to_update(date(2024, 3, 13), date(2023, 1, 1), date(2024, 3, 5)) == [
        date(2024, 3, 4),
        date(2024, 3, 11),
    ]


def test_weeks_to_update_without_a_first_date_or_success_are_two_weeks():
    assert weeks_to_update(date(2024, 3, 11), None, None) == [date(2024, 3, 4), date(2024, 3, 11)]


def test_weeks_to_update_of_a_history_starting_after_today_are_none():
    # The profile's first day lies in a later week of the member's own calendar (a zone change).
    assert weeks_to_update(date(2024, 3, 10), None, date(2024, 3, 11)) == []


def test_weeks_in_history_counts_partial_weeks_at_both_ends():
    assert weeks_in_history(date(2024, 2, 29), date(2024, 3, 11)) == 3
    assert weeks_in_history(date(2024, 3, 11), date(2024, 3, 11)) == 1
