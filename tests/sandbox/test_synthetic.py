import itertools
import json
import time
from datetime import date, timedelta

from sandbox.synthetic import generate_day, persona

USER = 31415926
ZONE = "America/Los_Angeles"


def week(start: date, track_points: bool = True) -> list[dict]:
    return [generate_day(USER, ZONE, start + timedelta(days=i), track_points) for i in range(7)]


def all_activities(day: dict) -> list[dict]:
    return [a for s in day["segments"] or [] for a in s.get("activities", [])]


def test_synthetic_day_is_the_same_every_time():
    first = json.dumps(generate_day(USER, ZONE, date(2020, 5, 4), True))
    persona.cache_clear()
    assert json.dumps(generate_day(USER, ZONE, date(2020, 5, 4), True)) == first


def test_synthetic_days_differ_between_dates_and_users():
    monday = generate_day(USER, ZONE, date(2020, 5, 4), True)
    tuesday = generate_day(USER, ZONE, date(2020, 5, 5), True)
    someone_else = generate_day(USER + 1, ZONE, date(2020, 5, 4), True)
    assert monday["segments"] != tuesday["segments"]
    assert monday["segments"] != someone_else["segments"]


def test_synthetic_track_points_do_not_change_the_rest_of_the_day():
    with_points = generate_day(USER, ZONE, date(2020, 5, 4), True)
    for activity in all_activities(with_points):
        del activity["trackPoints"]
    assert with_points == generate_day(USER, ZONE, date(2020, 5, 4), False)


def test_synthetic_history_has_some_days_without_data():
    days = [generate_day(USER, ZONE, date(2019, 1, 1) + timedelta(days=i), False) for i in range(365)]
    empty = [d for d in days if d["segments"] is None]
    assert 3 <= len(empty) <= 30
    assert all(d == {"date": d["date"], "summary": None, "segments": None} for d in empty)


def test_synthetic_segments_follow_each_other_through_the_day():
    for day in week(date(2020, 5, 4)):
        if day["segments"] is None:
            continue
        segments = day["segments"]
        assert segments[0]["startTime"].startswith(day["date"] + "T000000")
        assert segments[-1]["endTime"].startswith(day["date"] + "T235959")
        for before, after in itertools.pairwise(segments):
            assert before["endTime"] == after["startTime"]
        assert {s["type"] for s in segments} <= {"place", "move"}
        assert day["lastUpdate"].endswith("Z")


def test_synthetic_times_carry_the_local_offset_including_daylight_saving():
    winter = generate_day(USER, ZONE, date(2020, 1, 15), True)
    summer = generate_day(USER, ZONE, date(2020, 7, 15), True)
    assert winter["segments"][0]["startTime"].endswith("-0800")
    assert summer["segments"][0]["startTime"].endswith("-0700")


def test_synthetic_track_points_move_forward_in_time():
    for day in week(date(2020, 5, 4)):
        for activity in all_activities(day):
            times = [p["time"] for p in activity["trackPoints"]]
            assert times == sorted(times)
            assert len(set(times)) == len(times)
            if times:
                assert times[0] == activity["startTime"]
                assert times[-1] == activity["endTime"]


def test_synthetic_summary_adds_up_the_activities():
    day = generate_day(USER, ZONE, date(2020, 5, 6), False)
    for entry in day["summary"]:
        matching = [a for a in all_activities(day) if a["activity"] == entry["activity"]]
        assert entry["duration"] == sum(a["duration"] for a in matching)
        assert entry.get("steps") == (sum(a["steps"] for a in matching) if "steps" in matching[0] else None)


def test_synthetic_places_include_home_work_and_foursquare():
    types = {
        s["place"]["type"]
        for start in (date(2020, 5, 4), date(2020, 5, 11), date(2020, 5, 18))
        for d in week(start)
        for s in d["segments"] or []
        if s["type"] == "place"
    }
    assert {"home", "work", "foursquare", "unknown"} <= types


def test_synthetic_week_is_about_the_size_of_the_recording():
    weeks = [week(date(2020, 1, 6) + timedelta(weeks=n)) for n in range(8)]
    points = sum(len(a["trackPoints"]) for w in weeks for d in w for a in all_activities(d)) / 8
    size = sum(len(json.dumps(w, separators=(",", ":"))) for w in weeks) / 8
    assert 1500 <= points <= 3500
    assert 100_000 <= size <= 300_000


def test_synthetic_week_generates_well_under_50_ms():
    timings = []
    for n in range(20):
        started = time.perf_counter()
        json.dumps(week(date(2018, 1, 1) + timedelta(weeks=n)))
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[len(timings) // 2] < 0.05
