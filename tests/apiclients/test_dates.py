from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from apiclients.dates import day_text, monday_of, parse_day, parse_time, utc_text, week_days, week_name

PACIFIC = timezone(timedelta(hours=-7))


def fullwidth(digits: str) -> str:
    """The same digits in their full-width forms (U+FF10 to U+FF19), which Python's \\d also matches."""
    return "".join(chr(ord(digit) + 0xFEE0) for digit in digits)


def test_parse_day_reads_yyyymmdd():
    assert parse_day("20160616") == date(2016, 6, 16)
    assert parse_day("20160229") == date(2016, 2, 29)


@pytest.mark.parametrize(
    "value",
    [
        "2016-06-16",
        "2016616",
        "201606160",
        "20161316",
        "20150229",
        "20160616\n",
        " 20160616",
        fullwidth("20160616"),
        "2016" + fullwidth("0") + "616",
        "",
        None,
        20160616,
        ["20160616"],
    ],
)
def test_parse_day_refuses_anything_else(value):
    with pytest.raises(ValueError):
        parse_day(value)


def test_parse_day_error_quotes_at_most_twenty_characters():
    with pytest.raises(ValueError) as caught:
        parse_day("x" * 100)

    assert str(caught.value) == f"not a yyyyMMdd date: {'x' * 20!r}"


def test_day_text_is_the_inverse_of_parse_day():
    assert day_text(date(2016, 6, 6)) == "20160606"
    assert parse_day(day_text(date(1999, 12, 31))) == date(1999, 12, 31)


def test_parse_time_reads_local_times_with_their_offset():
    assert parse_time("20160617T015148-0700") == datetime(2016, 6, 17, 1, 51, 48, tzinfo=PACIFIC)
    assert parse_time("20160617T015148+0530") == datetime(
        2016, 6, 17, 1, 51, 48, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )


def test_parse_time_reads_utc_times():
    moment = parse_time("20160618T133300Z")

    assert moment == datetime(2016, 6, 18, 13, 33, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "20160617T015148",
        "20160617 015148Z",
        "2016-06-17T01:51:48Z",
        "20160617T015148-07:00",
        "20160617T015148z",
        "20160617T256148Z",
        "20160617T015148-0700\n",
        "20160617T015148Z\n",
        fullwidth("2016") + "0617T015148-0700",
        "20160617T" + fullwidth("0") + "15148Z",
        "",
        None,
        1466153508,
    ],
)
def test_parse_time_refuses_anything_else(value):
    with pytest.raises(ValueError):
        parse_time(value)


def test_utc_text_writes_what_moves_reads():
    assert utc_text(datetime(2016, 6, 17, 1, 51, 48, tzinfo=PACIFIC)) == "20160617T085148Z"
    assert utc_text(parse_time("20170201T000000Z")) == "20170201T000000Z"


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2016, 6, 13), date(2016, 6, 13)),
        (date(2016, 6, 16), date(2016, 6, 13)),
        (date(2016, 6, 19), date(2016, 6, 13)),
        (date(2016, 1, 1), date(2015, 12, 28)),
    ],
)
def test_monday_of_starts_the_iso_week(day, monday):
    assert monday_of(day) == monday


@pytest.mark.parametrize(
    ("monday", "name"),
    [
        (date(2016, 6, 13), "2016-W24"),
        (date(2016, 1, 4), "2016-W01"),
        (date(2015, 12, 28), "2015-W53"),
        (date(2018, 12, 31), "2019-W01"),
    ],
)
def test_week_name_is_the_iso_week(monday, name):
    assert week_name(monday) == name


def test_week_days_are_monday_to_sunday():
    assert week_days(date(2015, 12, 28)) == [
        date(2015, 12, 28),
        date(2015, 12, 29),
        date(2015, 12, 30),
        date(2015, 12, 31),
        date(2016, 1, 1),
        date(2016, 1, 2),
        date(2016, 1, 3),
    ]
