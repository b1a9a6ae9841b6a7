"""Fixtures of the presentation tests: a signed-in member, their days, and pages read without upstreams."""

from collections.abc import Callable
from datetime import date, timedelta

import pytest
import vcr
from django.test import Client

from core.days import HAS_DATA, NO_DATA, DayFacts, store_calendar
from core.models import MovesMember, RecentDay

# Rendering must never reach an upstream: an empty cassette in "none" mode
# refuses every request, so a test fails if a page tries.
no_requests = vcr.VCR(record_mode="none")


@pytest.fixture
def moves(make_member) -> MovesMember:
    return make_member(oh_id="23456789", time_zone="Europe/Berlin")


@pytest.fixture
def member_client(client: Client, moves: MovesMember) -> Client:
    client.force_login(moves.member.user)
    return client


@pytest.fixture
def set_state(moves: MovesMember) -> Callable[..., MovesMember]:
    """Write fields of the member's row as the worker would: ``set_state(status=..., failures=2)``."""

    def write(**fields) -> MovesMember:
        MovesMember.objects.filter(pk=moves.pk).update(**fields)
        moves.refresh_from_db()
        return moves

    return write


def steps_for(day: date) -> int:
    """Made-up but varied steps: every seventh day without data, the others 0 to 14,000."""
    return (day.toordinal() * 2654435761) % 14_000


def hold_days(moves: MovesMember, first: date, last: date, gaps: frozenset[date] = frozenset()) -> None:
    """The calendar of a member holding every day from ``first`` to ``last`` (``gaps`` without data)."""
    facts = []
    offset = 1
    day = first
    while day <= last:
        if day in gaps:
            facts.append(DayFacts(day, NO_DATA, 0, offset, 20))
        else:
            facts.append(DayFacts(day, HAS_DATA, steps_for(day), offset, 200))
        offset += 220
        day += timedelta(days=1)
    store_calendar(moves, facts)


def recent_day(moves: MovesMember, day: date, steps: int = 8214, name: str = "Cafe") -> RecentDay:
    return RecentDay.objects.create(
        moves_member=moves,
        date=day,
        steps=steps,
        distance_m=6200.0,
        places=[
            {"name": name, "lat": 52.52, "lon": 13.40, "start": "08:10", "end": "12:30"},
            {"name": "Home", "lat": 52.50, "lon": 13.42, "start": "13:05", "end": ""},
        ],
        tracks=[[[52.52, 13.40], [52.51, 13.41], [52.50, 13.42]]],
    )


@pytest.fixture
def page(member_client: Client) -> Callable[..., str]:
    """The dashboard's HTML, rendered without any upstream call."""

    def get(**params) -> str:
        with no_requests.use_cassette("no-upstream", serializer="json") as cassette:
            response = member_client.get("/dashboard/", params)
        assert response.status_code == 200
        assert cassette.play_count == 0
        return response.content.decode()

    return get
