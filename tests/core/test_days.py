"""Summaries of storyline days: the packed calendar of a whole history, and the map of one day."""

from datetime import date

import pytest

from core.days import (
    DAY_RECORD,
    HAS_DATA,
    MAX_STEPS,
    MAX_TRACK_POINTS,
    NO_DATA,
    NOT_FETCHED,
    DayFacts,
    calendar,
    day_in_file,
    day_map,
    facts_of,
    has_data,
    pack_year,
    steps_of,
    store_calendar,
    store_recent_days,
    unpack_year,
)
from core.models import DayYear, RecentDay

WALK = {"activity": "walking", "group": "walking", "duration": 600.0, "distance": 800.0, "steps": 1100}


def place_segment(name: str | None = "Cafe", kind: str = "user", lat: float = 50.1, lon: float = 8.6) -> dict:
    place = {"id": 1, "type": kind, "location": {"lat": lat, "lon": lon}}
    if name is not None:
        place["name"] = name
    return {
        "type": "place",
        "startTime": "20240311T081000+0100",
        "endTime": "20240311T123000+0100",
        "place": place,
    }


def move_segment(points: list[tuple[float, float]]) -> dict:
    return {
        "type": "move",
        "startTime": "20240311T123000+0100",
        "endTime": "20240311T130000+0100",
        "activities": [{**WALK, "trackPoints": [{"lat": lat, "lon": lon} for lat, lon in points]}],
    }


# --- the calendar's record -----------------------------------------------------------------


def test_a_day_of_the_calendar_takes_13_bytes():
    assert DAY_RECORD.size == 13
    assert len(pack_year(2023, [])) == 365 * 13
    assert len(pack_year(2024, [])) == 366 * 13


def test_pack_then_unpack_gives_every_day_of_the_year_back():
    facts = [
        DayFacts(date(2024, 1, 1), HAS_DATA, 9876, 1, 31_000),
        DayFacts(date(2024, 2, 29), NO_DATA, 0, 31_002, 55),
        DayFacts(date(2024, 12, 31), HAS_DATA, MAX_STEPS, 2**32 - 1, 2**32 - 1),
    ]

    unpacked = unpack_year(2024, pack_year(2024, facts))

    assert len(unpacked) == 366
    assert [unpacked[0], unpacked[59], unpacked[365]] == facts
    assert unpacked[1] == DayFacts(date(2024, 1, 2), NOT_FETCHED, 0, 0, 0)


def test_store_calendar_replaces_the_members_years(make_member):
    moves = make_member()
    store_calendar(moves, [DayFacts(date(2020, 5, 1), HAS_DATA, 5)])

    store_calendar(
        moves,
        [DayFacts(date(2024, 1, 2), HAS_DATA, 7, 10, 20), DayFacts(date(2023, 12, 31), NO_DATA, 0, 1, 9)],
    )

    held = calendar(moves)
    assert list(held) == [2023, 2024]
    assert (held[2023][364], held[2024][1]) == (
        DayFacts(date(2023, 12, 31), NO_DATA, 0, 1, 9),
        DayFacts(date(2024, 1, 2), HAS_DATA, 7, 10, 20),
    )
    assert DayYear.objects.filter(moves_member=moves).count() == 2


def test_day_in_file_is_where_an_uploaded_day_sits(make_member):
    moves = make_member()
    store_calendar(moves, [DayFacts(date(2024, 3, 11), HAS_DATA, 7, 4096, 30_000)])

    assert day_in_file(moves, date(2024, 3, 11)) == DayFacts(date(2024, 3, 11), HAS_DATA, 7, 4096, 30_000)


@pytest.mark.parametrize(
    "day",
    [date(2024, 3, 12), date(2023, 3, 11)],
    ids=["not fetched", "a year not held"],
)
def test_day_in_file_of_a_day_not_uploaded_is_none(make_member, day):
    moves = make_member()
    store_calendar(moves, [DayFacts(date(2024, 3, 11), HAS_DATA, 7, 4096, 30_000)])

    assert day_in_file(moves, day) is None


def test_day_in_file_of_a_day_without_bytes_is_none(make_member):
    moves = make_member()
    store_calendar(moves, [DayFacts(date(2024, 3, 11), NO_DATA, 0, 4096, 0)])

    assert day_in_file(moves, date(2024, 3, 11)) is None


def test_day_in_file_of_a_short_row_is_none(make_member):
    moves = make_member()
    DayYear.objects.create(moves_member=moves, year=2024, days=pack_year(2024, [])[: 13 * 10])

    assert day_in_file(moves, date(2024, 3, 11)) is None


# --- facts of a day ---------------------------------------------------------------------------


def test_facts_of_a_day_with_data():
    day = {
        "date": "20240311",
        "summary": [{"steps": 1200}, {"steps": 34.6}, {"group": "cycling"}],
        "segments": [],
    }

    assert facts_of(day, 100, 2000) == DayFacts(date(2024, 3, 11), HAS_DATA, 1234, 100, 2000)


def test_facts_of_the_first_day_without_data():
    assert facts_of({"date": "20160613", "summary": None, "segments": None}) == DayFacts(
        date(2016, 6, 13), NO_DATA, 0, 0, 0
    )


def test_facts_of_a_day_without_a_date_refuse_it():
    with pytest.raises(ValueError, match="yyyyMMdd"):
        facts_of({"date": "2024-03-11", "summary": None})


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ({"segments": [place_segment()], "summary": None}, True),
        ({"segments": None, "summary": [{"steps": 1}]}, True),
        ({"segments": [], "summary": []}, False),
        ({}, False),
    ],
    ids=["segments", "summary", "empty lists", "nothing"],
)
def test_has_data(day, expected):
    assert has_data(day) is expected


@pytest.mark.parametrize(
    ("summary", "steps"),
    [
        ([{"steps": 500}, {"steps": 250}], 750),
        ([{"steps": True}, {"steps": "900"}, {"steps": None}, "walking", {"steps": 10}], 10),
        ([{"steps": -400}], 0),
        ([{"steps": 1e12}], MAX_STEPS),
        ({"steps": 500}, 0),
        (None, 0),
    ],
    ids=["sum", "only numbers count", "never negative", "capped", "not a list", "null"],
)
def test_steps_of_tolerates_what_moves_may_send(summary, steps):
    assert steps_of({"summary": summary}) == steps


# --- the map of a day --------------------------------------------------------------------------


def test_day_map_of_a_whole_day():
    day = {
        "date": "20240311",
        "summary": [{**WALK}],
        "segments": [
            place_segment("Cafe"),
            move_segment([(50.1, 8.6), (50.2, 8.7)]),
            place_segment(None, "home"),
        ],
    }

    assert day_map(day) == {
        "recorded": True,
        "steps": 1100,
        "distance_m": 800.0,
        "places": [
            {"name": "Cafe", "lat": 50.1, "lon": 8.6, "start": "08:10", "end": "12:30"},
            {"name": "Home", "lat": 50.1, "lon": 8.6, "start": "08:10", "end": "12:30"},
        ],
        "tracks": [[[50.1, 8.6], [50.2, 8.7]]],
    }


def test_day_map_tolerates_missing_and_broken_parts():
    day = {
        "summary": "not a list",
        "segments": [
            "not a segment",
            {"type": "place", "place": "not a place"},
            {"type": "place", "place": {"name": "Nowhere"}},
            {"type": "place", "place": {"name": "Pole", "location": {"lat": 91.0, "lon": 0.0}}},
            {
                "type": "place",
                "place": {"type": "unknown", "location": {"lat": 1, "lon": 2}},
                "startTime": "late",
            },
            {"type": "move", "activities": "none"},
            {
                "type": "move",
                "activities": [{"trackPoints": "none"}, "x", {"trackPoints": [{"lat": 1, "lon": 1}]}],
            },
            {
                "type": "move",
                "activities": [{"trackPoints": [{"lat": "1", "lon": 2}, None, {"lat": 3, "lon": 4}]}],
            },
        ],
    }

    assert day_map(day) == {
        "recorded": True,
        "steps": 0,
        "distance_m": 0.0,
        "places": [{"name": "Unnamed place", "lat": 1.0, "lon": 2.0, "start": "", "end": ""}],
        "tracks": [],
    }


def test_day_map_of_an_empty_day():
    assert day_map({"date": "20160613", "summary": None, "segments": None}) == {
        "recorded": False,
        "steps": 0,
        "distance_m": 0.0,
        "places": [],
        "tracks": [],
    }


def test_day_map_cuts_a_long_place_name():
    assert day_map({"segments": [place_segment("x" * 500)]})["places"][0]["name"] == "x" * 100


def test_day_map_thins_long_tracks_and_keeps_where_each_ends():
    long_track = [(50 + n / 10_000, 8.0) for n in range(3001)]
    short_track = [(51 + n / 10_000, 9.0) for n in range(1000)]

    tracks = day_map({"segments": [move_segment(long_track), move_segment(short_track)]})["tracks"]

    assert sum(len(track) for track in tracks) <= MAX_TRACK_POINTS + len(tracks)
    assert [track[0] for track in tracks] == [[50.0, 8.0], [51.0, 9.0]]
    assert [track[-1] for track in tracks] == [[50.3, 8.0], [51.0999, 9.0]]


def test_day_map_keeps_a_day_within_the_limit_whole():
    track = [(50 + n / 10_000, 8.0) for n in range(MAX_TRACK_POINTS)]

    assert len(day_map({"segments": [move_segment(track)]})["tracks"][0]) == MAX_TRACK_POINTS


def test_store_recent_days_replaces_the_members_maps(make_member):
    moves = make_member()
    RecentDay.objects.create(moves_member=moves, date=date(2024, 1, 1), steps=1)

    store_recent_days(
        moves,
        [
            {"date": "20240310", "summary": [{**WALK}], "segments": [place_segment("Cafe")]},
            {"date": "20240311", "summary": None, "segments": None},
        ],
    )

    assert list(RecentDay.objects.filter(moves_member=moves).values_list("date", "steps", "distance_m")) == [
        (date(2024, 3, 10), 1100, 800.0),
        (date(2024, 3, 11), 0, 0.0),
    ]
    assert RecentDay.objects.get(date=date(2024, 3, 10)).places == [
        {"name": "Cafe", "lat": 50.1, "lon": 8.6, "start": "08:10", "end": "12:30"}
    ]
