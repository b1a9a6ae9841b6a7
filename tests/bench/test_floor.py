"""The benchmark's exact floor: the least makespan the two fixed windows allow."""

import pytest

from bench.floor import exact_floor


def floor_seconds(requests: int) -> float:
    # At time scale 20: minutes of 3 s holding 59, hours of 180 s holding 1,999.
    return exact_floor(requests, scale=20).seconds


@pytest.mark.parametrize(
    ("requests", "seconds"),
    [
        (1, 0.0),
        (59, 0.0),
        (60, 3.0),
        # Five years: 263 requests in five minutes, the last at the fifth's start.
        (263, 12.0),
        (1999, 99.0),
        # One more than an hour holds waits for the next hour.
        (2000, 180.0),
        # 40 x 56: the next hour's 241 need five of its minutes.
        (2240, 192.0),
        (2 * 1999 + 1, 360.0),
    ],
)
def test_the_floor_counts_the_minutes_the_last_hour_still_needs(requests, seconds):
    assert floor_seconds(requests) == pytest.approx(seconds)


def test_an_hour_holds_no_more_than_its_minutes_do():
    # 10 a minute is 600 an hour, under an hour limit of 2,000: the hour never binds.
    floor = exact_floor(1300, scale=20, per_minute=11, per_hour=2001)
    assert floor.hour_capacity == 600
    assert floor.seconds == pytest.approx(2 * 180 + (10 - 1) * 3)


def test_the_description_names_both_windows():
    assert exact_floor(2240, scale=20).describe() == (
        "2 hour(s) of at most 1999, the last with 241 in 5 minute(s) of 59 = 192.0 s"
    )
