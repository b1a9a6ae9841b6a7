"""The synthetic storyline has the shapes of the 2018 recording (see the Sandbox fidelity table)."""

import itertools
import json
import time
from datetime import date, datetime, timedelta

from sandbox import synthetic
from sandbox.synthetic import History, storyline

USER = 38469648949403944
# Lives in Frankfurt, currently in -0700 / -0800: as in the recording.
RECORDED = History(
    moves_id=USER,
    city="frankfurt",
    zone="America/Los_Angeles",
    first_date=date(2016, 6, 16),
    last_date=None,
    created=datetime(2018, 4, 25, 20, 33).timestamp(),
)
NOW = datetime(2018, 4, 25, 20, 33).timestamp()


def days(first: date, count: int, history: History = RECORDED, track_points: bool = True) -> list[dict]:
    return storyline(history, [first + timedelta(days=i) for i in range(count)], track_points, now=NOW)


def segments(found: list[dict]) -> list[dict]:
    return [s for d in found for s in d["segments"] or []]


def activities(found: list[dict]) -> list[dict]:
    return [a for s in segments(found) for a in s.get("activities", [])]


def test_synthetic_day_is_the_same_every_time():
    first = json.dumps(days(date(2017, 5, 1), 7))
    synthetic.persona.cache_clear()
    synthetic.plan.cache_clear()
    synthetic.city_day.cache_clear()
    assert json.dumps(days(date(2017, 5, 1), 7)) == first


def test_synthetic_days_differ_between_dates_and_users():
    other = History(USER + 1, "frankfurt", "America/Los_Angeles", date(2016, 6, 16), None, RECORDED.created)
    monday, tuesday = days(date(2017, 5, 1), 2)
    assert monday["segments"] != tuesday["segments"]
    assert monday["segments"] != days(date(2017, 5, 1), 1, other)[0]["segments"]


def test_synthetic_first_date_answers_without_data_and_the_next_day_starts_late():
    first, second = days(date(2016, 6, 16), 2)
    assert first == {"date": "20160616", "summary": None, "segments": None}
    start = second["segments"][0]["startTime"]
    assert start.startswith("20160617T0")
    assert start > "20160617T010000"


def test_synthetic_day_keys_are_those_of_the_recording():
    day = days(date(2017, 5, 2), 1)[0]
    assert list(day) == ["date", "summary", "segments", "lastUpdate"]
    move = next(s for s in day["segments"] if s["type"] == "move")
    assert list(move) == ["type", "startTime", "endTime", "activities", "lastUpdate"]
    walk = next(a for a in move["activities"] if a["activity"] == "walking")
    assert list(walk) == [
        "activity",
        "group",
        "manual",
        "startTime",
        "endTime",
        "duration",
        "distance",
        "steps",
        "trackPoints",
    ]
    assert list(walk["trackPoints"][0]) == ["lat", "lon", "time"]


def test_synthetic_most_days_start_on_the_previous_date_with_the_same_segment():
    found = days(date(2017, 5, 1), 28)
    starts_before = [d for d in found if d["segments"] and d["segments"][0]["startTime"][:8] < d["date"]]
    assert len(starts_before) >= 20
    for before, after in itertools.pairwise(found):
        if before["segments"] and after["segments"] and after["segments"][0]["startTime"][:8] < after["date"]:
            shared = after["segments"][0]
            last = before["segments"][-1]
            assert (last["startTime"], last["endTime"], last["lastUpdate"]) == (
                shared["startTime"],
                shared["endTime"],
                shared["lastUpdate"],
            )
            assert last.get("place") == shared.get("place")


def test_synthetic_activities_of_a_segment_over_midnight_are_cut_at_the_day():
    for day in days(date(2017, 5, 1), 14):
        for segment in day["segments"] or []:
            for activity in segment.get("activities", []):
                assert activity["startTime"][:8] == day["date"]
                assert activity["endTime"][:8] == day["date"]
                times = [p["time"] for p in activity["trackPoints"]]
                assert times == sorted(times)
                assert all(t[:8] == day["date"] for t in times)


def test_synthetic_segments_leave_gaps_of_seconds_and_moves_follow_moves():
    found = segments(days(date(2017, 3, 1), 60, track_points=False))
    gaps = set()
    consecutive_moves = 0
    for before, after in itertools.pairwise(found):
        if before is after or before["startTime"] == after["startTime"]:
            continue
        end = datetime.strptime(before["endTime"], "%Y%m%dT%H%M%S%z")
        start = datetime.strptime(after["startTime"], "%Y%m%dT%H%M%S%z")
        gaps.add(int((start - end).total_seconds()))
        consecutive_moves += before["type"] == after["type"] == "move"
    assert {0, 1, 20} <= gaps
    assert max(gaps) < 3600 or 0 in gaps
    assert consecutive_moves >= 3


def test_synthetic_places_of_every_type_with_their_keys():
    found = segments(days(date(2017, 1, 2), 56, track_points=False))
    places = {s["place"]["type"]: s["place"] for s in found if s["type"] == "place"}
    assert set(places) == {"home", "work", "school", "user", "foursquare", "facebook", "unknown"}
    assert list(places["facebook"]) == ["id", "name", "type", "facebookPlaceId", "location"]
    assert list(places["foursquare"]) == [
        "id",
        "name",
        "type",
        "foursquareId",
        "foursquareCategoryIds",
        "location",
    ]
    assert list(places["unknown"]) == ["id", "type", "location"]
    assert places["facebook"]["facebookPlaceId"].isdigit()
    assert len(places["foursquare"]["foursquareId"]) == 24


def test_synthetic_home_has_full_precision_coordinates():
    home = next(
        s["place"] for s in segments(days(date(2017, 5, 1), 2)) if s.get("place", {}).get("type") == "home"
    )
    assert len(repr(home["location"]["lat"]).split(".")[1]) > 10
    assert len(repr(home["location"]["lon"]).split(".")[1]) > 10


def test_synthetic_manual_activities_of_many_kinds():
    history = RECORDED
    year = storyline(history, synthetic.date_range(date(2017, 1, 1), date(2017, 12, 31)), False, now=NOW)
    manual = {a["activity"]: a for a in activities(year) if a["manual"]}
    assert {"car", "bus", "train", "airplane", "boat", "underground", "tram", "motorcycle"} - set(
        manual
    ) == set()
    sports = [a for a in manual.values() if a["activity"] in synthetic.SPORTS]
    assert sports
    assert all("group" not in a for a in sports)
    assert all(manual[kind]["group"] == "transport" for kind in ("car", "bus", "train", "airplane"))


def test_synthetic_automatic_activities_are_not_manual():
    kinds = {(a["activity"], a["manual"]) for a in activities(days(date(2017, 5, 1), 28, track_points=False))}
    assert ("walking", False) in kinds
    assert ("walking", True) not in kinds


def test_synthetic_summary_adds_up_the_activities_of_the_day():
    for day in days(date(2017, 5, 1), 7, track_points=False):
        if not day["summary"]:
            continue
        for entry in day["summary"]:
            matching = [
                a
                for s in day["segments"]
                for a in s.get("activities", [])
                if a["activity"] == entry["activity"]
            ]
            assert entry["duration"] == sum(a["duration"] for a in matching)
            assert entry["distance"] == sum(a["distance"] for a in matching)


def test_synthetic_last_update_is_months_after_the_day_for_named_places():
    found = days(date(2016, 6, 17), 10)
    updates = sorted({s["lastUpdate"] for s in segments(found)})
    assert updates[0] > "20160617"
    assert updates[-1] >= "20161001"
    named_late = {
        s["place"]["name"] for s in segments(found) if s["type"] == "place" and s["lastUpdate"] >= "20161001"
    }
    assert named_late
    for day in found:
        if day["segments"]:
            assert day["lastUpdate"] == max(s["lastUpdate"] for s in day["segments"])


def test_synthetic_track_points_do_not_change_the_rest_of_the_day():
    with_points = days(date(2017, 5, 4), 1)
    for activity in activities(with_points):
        del activity["trackPoints"]
    assert with_points == days(date(2017, 5, 4), 1, track_points=False)


def test_synthetic_times_carry_the_current_zone_offset_including_daylight_saving():
    winter = days(date(2017, 1, 17), 1)[0]["segments"][1]["startTime"]
    summer = days(date(2017, 7, 18), 1)[0]["segments"][1]["startTime"]
    assert (winter[-5:], summer[-5:]) == ("-0800", "-0700")


def test_synthetic_zone_change_recuts_every_day_but_not_the_places():
    moved = History(**{**RECORDED.__dict__, "zone": "Asia/Tokyo"})
    here = days(date(2017, 5, 2), 1)[0]
    there = days(date(2017, 5, 2), 1, moved)[0]
    assert here["segments"][0]["startTime"][-5:] == "-0700"
    assert there["segments"][0]["startTime"][-5:] == "+0900"
    assert here["segments"] != there["segments"]
    home_here = {s["place"]["id"]: s["place"]["location"] for s in here["segments"] if s["type"] == "place"}
    home_there = {s["place"]["id"]: s["place"]["location"] for s in there["segments"] if s["type"] == "place"}
    shared = set(home_here) & set(home_there)
    assert shared
    assert all(home_here[i] == home_there[i] for i in shared)


def test_synthetic_segments_appear_only_once_uploaded():
    history = History(USER, "frankfurt", "Europe/Berlin", date(2017, 4, 1), None, RECORDED.created)
    noon = datetime(2017, 5, 3, 12, 0).timestamp()
    early = storyline(history, [date(2017, 5, 3)], False, now=noon)[0]
    late = storyline(history, [date(2017, 5, 3)], False, now=noon + 2 * 86400)[0]
    assert len(early["segments"] or []) < len(late["segments"])
    assert all(s["lastUpdate"] <= "20170503T100000Z" for s in early["segments"] or [])


def test_synthetic_week_is_about_the_size_of_the_recording():
    weeks = [days(date(2017, 1, 2) + timedelta(weeks=n), 7) for n in range(8)]
    points = sum(len(a["trackPoints"]) for w in weeks for a in activities(w)) / 8
    size = sum(len(json.dumps(w, separators=(",", ":"))) for w in weeks) / 8
    assert 1500 <= points <= 3500
    assert 100_000 <= size <= 300_000


def test_synthetic_week_generates_well_under_50_ms():
    long_ago = History(USER + 7, "london", "Europe/London", date(2012, 1, 1), None, time.time())
    timings = []
    for n in range(20):
        started = time.perf_counter()
        json.dumps(days(date(2015, 1, 5) + timedelta(weeks=n), 7, long_ago))
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[len(timings) // 2] < 0.05
