"""main.history: the calendar of every day held, and the day the page opens on."""

from datetime import date, timedelta

import pytest
import time_machine

from core.models import MovesMember
from main.history import CalendarDay, day_payload, history_calendar, pick_day, steps_level
from tests.main.conftest import hold_days, recent_day, steps_for

TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(date(2026, 11, 26), tick=False):
        yield


def cell(calendar, day: date) -> CalendarDay:
    year = next(year for year in calendar.years if year.year == day.year)
    found = year.months[day.month - 1].days[day.day - 1]
    assert found is not None
    return found


def test_history_calendar_covers_every_year_from_the_first_day_to_today(moves, set_state):
    set_state(first_date=date(2021, 11, 20))
    gap = date(2022, 2, 2)
    hold_days(moves, date(2021, 11, 20), date(2023, 6, 30), frozenset({gap}))

    calendar = history_calendar(moves)

    assert [year.year for year in calendar.years] == [2021, 2022, 2023, 2024, 2025, 2026]
    assert cell(calendar, date(2021, 11, 19)).kind == "outside"
    assert cell(calendar, date(2022, 2, 1)).kind == "data"
    assert cell(calendar, gap).kind == "empty"
    assert cell(calendar, date(2023, 7, 1)).kind == "waiting"
    assert cell(calendar, TODAY).kind == "waiting"
    assert cell(calendar, TODAY + timedelta(days=1)).kind == "outside"
    assert (calendar.first, calendar.last) == (date(2021, 11, 20), date(2023, 6, 30))
    assert len(calendar.held) == (date(2023, 6, 30) - date(2021, 11, 20)).days + 1
    year_2022 = calendar.years[1]
    assert (year_2022.days_with_data, year_2022.days_without, year_2022.days_waiting) == (364, 1, 0)


def test_history_calendar_months_have_31_slots_and_none_past_their_end(moves, set_state):
    set_state(first_date=date(2024, 1, 1))
    hold_days(moves, date(2024, 1, 1), date(2024, 3, 31))

    february = history_calendar(moves).years[0].months[1]

    assert len(february.days) == 31
    assert february.days[28] is not None  # 29 February 2024
    assert february.days[29:] == [None, None]


def test_calendar_day_labels_name_the_day_and_its_steps():
    assert CalendarDay(date(2024, 5, 3), "data", 8214).label == "Fri 3 May 2024: 8,214 steps"
    assert CalendarDay(date(2024, 5, 4), "empty").label == "Sat 4 May 2024: no data"
    assert CalendarDay(date(2024, 5, 5), "waiting").label == "Sun 5 May 2024: not fetched yet"


@pytest.mark.parametrize(("steps", "level"), [(0, 0), (1, 1), (1999, 1), (2000, 2), (5000, 3), (10000, 4)])
def test_steps_level(steps, level):
    assert steps_level(steps) == level


def test_history_calendar_before_anything_is_known_is_none(moves, set_state):
    set_state(first_date=None)

    assert history_calendar(moves) is None


def test_neighbours_skip_days_not_held(moves, set_state):
    set_state(first_date=date(2024, 1, 1))
    hold_days(moves, date(2024, 1, 1), date(2024, 1, 10))
    hold_days_later = history_calendar(moves)

    assert hold_days_later.neighbours(date(2024, 1, 1)) == (None, date(2024, 1, 2))
    assert hold_days_later.neighbours(date(2024, 1, 10)) == (date(2024, 1, 9), None)


def test_pick_day_takes_a_held_day_asked_for_else_the_latest_recent_day(moves, set_state):
    set_state(first_date=date(2024, 1, 1))
    hold_days(moves, date(2024, 1, 1), date(2024, 2, 29))
    calendar = history_calendar(moves)
    recent = [recent_day(moves, date(2024, 2, 28)), recent_day(moves, date(2024, 2, 29))]

    assert pick_day(calendar, recent, "2024-01-15") == date(2024, 1, 15)
    assert pick_day(calendar, recent, "2019-01-15") == date(2024, 2, 29)
    assert pick_day(calendar, recent, "not a date") == date(2024, 2, 29)
    assert pick_day(calendar, [], None) == date(2024, 2, 29)


def test_day_payload_keeps_well_formed_points_and_names_as_text():
    detail = {
        "steps": 812,
        "distance_m": 6250,
        "places": [
            {
                "name": "<img src=x onerror=alert(1)>",
                "lat": 52.5,
                "lon": 13.4,
                "start": "08:10",
                "end": "09:00",
            },
            {"name": "No position", "lat": "52", "lon": None},
            "not a place",
        ],
        "tracks": [[[52.5, 13.4], [52.51, "x"], [52.52, 13.42]], [[1, 2]], "junk"],
    }

    payload = day_payload(date(2024, 5, 3), detail)

    assert payload["title"] == "Friday 3 May 2024"
    assert (payload["steps"], payload["distance_km"]) == (812, 6.2)
    assert [place["name"] for place in payload["places"]] == ["<img src=x onerror=alert(1)>"]
    assert payload["tracks"] == [[[52.5, 13.4], [52.52, 13.42]]]
    assert (payload["start"], payload["end"]) == ([52.5, 13.4], [52.52, 13.42])


def test_dashboard_renders_the_calendar_with_one_link_per_day_held(page, moves, set_state):
    set_state(first_date=date(2025, 12, 30))
    hold_days(moves, date(2025, 12, 30), date(2026, 1, 5), frozenset({date(2026, 1, 2)}))

    html = page(day="2026-01-03")

    links = [line for line in html.split("<a ") if line.startswith('href="?day=')]
    assert len(links) == 7
    label = f"Sat 3 Jan 2026: {steps_for(date(2026, 1, 3)):,} steps"
    assert f'<a href="?day=2026-01-03#day" aria-label="{label}" aria-current="date"></a>' in html
    assert '<a href="?day=2026-01-02#day" aria-label="Fri 2 Jan 2026: no data"></a>' in html
    assert '<td class="w"></td>' in html  # 6 January onwards: not fetched yet
    assert 'id="day-title">Saturday 3 January 2026</span>' in html


def test_dashboard_of_a_member_without_days_shows_no_map(page, moves):
    MovesMember.objects.filter(pk=moves.pk).update(first_date=None)

    html = page()

    assert 'id="day-map"' not in html
    assert "The calendar appears once Moves has told us where your history begins." in html
