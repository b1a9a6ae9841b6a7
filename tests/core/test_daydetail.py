"""The map of any day: recent ones from the database, older ones by byte range from Open Humans."""

from datetime import date

import pytest
import redis
from django.conf import settings as django_settings

from apiclients.dates import parse_day
from core.daydetail import DayNotHeld, day_detail
from core.days import HAS_DATA, calendar, day_in_file, day_map, store_calendar
from core.models import MovesMember, RecentDay
from tests.connected import refusing_requests, settle

COUNTS = "test-sandbox-counts"


@pytest.fixture
def synced(connect, settings):
    """A person with forty days of history synced to the stand-in Open Humans, traffic counted from now."""
    person = connect(days=40)
    member = settle(person.member)
    assert member.status == MovesMember.Status.CURRENT
    settings.SANDBOX_REQUEST_COUNTS_KEY = COUNTS
    return person


def counts() -> dict[str, int]:
    raw = redis.Redis.from_url(django_settings.REDIS_URL).hgetall(COUNTS)
    return {key.decode(): int(value) for key, value in raw.items()}


def older_day_with_data(member: MovesMember) -> date:
    """A day with data older than every day the database keeps a map of."""
    oldest_recent = RecentDay.objects.filter(moves_member=member).order_by("date").first().date
    held = [fact.day for year in calendar(member).values() for fact in year if fact.state == HAS_DATA]
    older = [day for day in held if day < oldest_recent]
    assert older, "the history is too short to have days older than the recent ones"
    return older[0]


def test_day_detail_of_an_older_day_reads_just_that_day_from_open_humans(synced):
    member = synced.refresh()
    wanted = older_day_with_data(member)
    [day_in_the_file] = [day for day in synced.file_days() if parse_day(day["date"]) == wanted]

    detail = day_detail(member, wanted)

    assert detail == day_map(day_in_the_file)
    assert detail["places"] != []
    where = day_in_file(member, wanted)
    # One fresh link (exchange-member), one storage GET of exactly the day's bytes.
    assert counts() == {
        "oh_calls:exchange_member": 1,
        "oh_calls:datafile_download": 1,
        "oh_gets": 1,
        "oh_get_bytes": where.length,
    }
    assert where.length < member.file_size / 10


def test_day_detail_of_an_older_day_is_kept_for_the_next_time(synced):
    member = synced.refresh()
    wanted = older_day_with_data(member)
    first = day_detail(member, wanted)

    with refusing_requests() as tried:
        again = day_detail(member, wanted)

    assert (again, tried) == (first, [])


def test_day_detail_of_two_older_days_asks_for_one_link(synced):
    member = synced.refresh()
    wanted = older_day_with_data(member)
    day_detail(member, wanted)

    day_detail(member, date.fromordinal(wanted.toordinal() + 1))

    assert (counts()["oh_calls:exchange_member"], counts()["oh_gets"]) == (1, 2)


def test_day_detail_of_a_recent_day_reads_the_database(synced):
    member = synced.refresh()
    recent = RecentDay.objects.filter(moves_member=member).last()

    with refusing_requests() as tried:
        detail = day_detail(member, recent.date)

    assert detail == {
        "recorded": recent.recorded,
        "steps": recent.steps,
        "distance_m": recent.distance_m,
        "places": recent.places,
        "tracks": recent.tracks,
    }
    assert tried == []


@pytest.mark.parametrize(
    "day", [date(2000, 1, 3), date(2099, 1, 5)], ids=["before the history", "in the future"]
)
def test_day_detail_of_a_day_not_held_says_so_without_asking(synced, day):
    member = synced.refresh()

    with refusing_requests() as tried, pytest.raises(DayNotHeld):
        day_detail(member, day)

    assert tried == []


def test_day_detail_of_bytes_that_are_not_a_day_says_so(synced):
    member = synced.refresh()
    wanted = older_day_with_data(member)
    where = day_in_file(member, wanted)
    # The calendar points two bytes into the day: what comes back is not JSON.
    store_calendar(
        member, [where.__class__(wanted, where.state, where.steps, where.offset + 2, where.length)]
    )

    with pytest.raises(DayNotHeld):
        day_detail(member, wanted)


def test_day_detail_of_a_member_without_a_file_says_so(make_member):
    member = make_member()

    with refusing_requests() as tried, pytest.raises(DayNotHeld):
        day_detail(member, date(2024, 3, 11))

    assert tried == []
