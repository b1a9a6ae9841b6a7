"""Moves' date and time formats, parsed in one place.

Days are ``yyyyMMdd``; times are ``yyyyMMdd'T'HHmmssZ`` where ``Z`` is either
the letter Z (UTC, as in ``lastUpdate``) or an offset such as ``-0700`` (the
user's local time, as in segment times). Weeks are ISO 8601 weeks, Monday
first, as the API's ``yyyy-'W'ww`` period names them.
"""

import re
from datetime import UTC, date, datetime, timedelta

# ASCII digits only, and \Z rather than $, which would let a trailing newline through.
_DAY = re.compile(r"\A\d{8}\Z", re.ASCII)
_TIME = re.compile(r"\A(\d{8}T\d{6})(Z|[+-]\d{4})\Z", re.ASCII)


def parse_day(value: object) -> date:
    """A ``yyyyMMdd`` day; ValueError for anything else."""
    if not isinstance(value, str) or not _DAY.match(value):
        raise ValueError(f"not a yyyyMMdd date: {str(value)[:20]!r}")
    return datetime.strptime(value, "%Y%m%d").date()


def day_text(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_time(value: object) -> datetime:
    """A Moves time with its offset (``Z`` or ``+hhmm``), as an aware datetime; ValueError otherwise."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a Moves time: {str(value)[:30]!r}")
    zone = "+0000" if match.group(2) == "Z" else match.group(2)
    return datetime.strptime(match.group(1) + zone, "%Y%m%dT%H%M%S%z")


def utc_text(moment: datetime) -> str:
    """``moment`` in the UTC form Moves uses for ``lastUpdate`` and ``updatedSince``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_name(monday: date) -> str:
    """The API's name of the ISO week starting on ``monday``: ``2016-W24``."""
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_days(monday: date) -> list[date]:
    return [monday + timedelta(days=offset) for offset in range(7)]
