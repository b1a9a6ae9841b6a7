"""Which days a Moves daily request asks for, with the API's limits.

Accepted forms: a path element (a day ``yyyyMMdd`` or an ISO week
``yyyy-Www``), or ``from``/``to``, or ``pastDays``. Anything else, and ranges
beyond 31 days (7 with track points), raise ``BadPeriod`` (HTTP 400).
"""

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

MAX_DAYS = 31
MAX_DAYS_WITH_TRACK_POINTS = 7

_DAY = re.compile(r"^\d{8}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^\d{6}$")
_UPDATED_SINCE = re.compile(r"^(\d{8}T\d{6})(Z|[+-]\d{4})$")


class BadPeriod(ValueError):
    """The request names no valid period; the message goes into the 400 reply."""


def parse_day(text: str) -> date:
    if not _DAY.match(text):
        raise BadPeriod(f"Invalid date: {text!r} (expected yyyyMMdd)")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise BadPeriod(f"Invalid date: {text!r}") from None


def parse_track_points(params: Mapping[str, str]) -> bool:
    value = params.get("trackPoints", "false").lower()
    if value not in ("true", "false"):
        raise BadPeriod("trackPoints must be true or false")
    return value == "true"


def parse_updated_since(params: Mapping[str, str]) -> str | None:
    """``updatedSince`` as a UTC ``yyyyMMddTHHmmssZ`` string, comparable with ``lastUpdate``."""
    raw = params.get("updatedSince")
    if raw is None:
        return None
    match = _UPDATED_SINCE.match(raw)
    if not match:
        raise BadPeriod("updatedSince must look like yyyyMMdd'T'HHmmssZ")
    zone = "+0000" if match.group(2) == "Z" else match.group(2)
    try:
        moment = datetime.strptime(match.group(1) + zone, "%Y%m%dT%H%M%S%z")
    except ValueError:
        raise BadPeriod("updatedSince is not a valid time") from None
    return (moment - moment.utcoffset()).strftime("%Y%m%dT%H%M%SZ")


def days_for_path(period: str, params: Mapping[str, str]) -> list[date]:
    if any(key in params for key in ("from", "to", "pastDays")):
        raise BadPeriod("Give either a date in the path or from/to/pastDays, not both")
    if _DAY.match(period):
        return [parse_day(period)]
    week = _WEEK.match(period)
    if week:
        try:
            monday = date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1)
        except ValueError:
            raise BadPeriod(f"Invalid week: {period!r}") from None
        return [monday + timedelta(days=i) for i in range(7)]
    if _MONTH.match(period):
        raise BadPeriod("Month periods are only available for summaries")
    raise BadPeriod(f"Invalid date: {period!r} (expected yyyyMMdd or yyyy-Www)")


def days_for_query(params: Mapping[str, str], track_points: bool, today: date) -> list[date]:
    limit = MAX_DAYS_WITH_TRACK_POINTS if track_points else MAX_DAYS
    has_range = "from" in params or "to" in params
    if has_range and "pastDays" in params:
        raise BadPeriod("Give either from/to or pastDays, not both")
    if has_range:
        if "from" not in params or "to" not in params:
            raise BadPeriod("from and to must be given together")
        first, last = parse_day(params["from"]), parse_day(params["to"])
        if last < first:
            raise BadPeriod("to must not be before from")
        if (last - first).days + 1 > limit:
            raise BadPeriod(f"The range may cover at most {limit} days")
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if "pastDays" in params:
        raw = params["pastDays"]
        if not raw.isdigit() or not 1 <= int(raw) <= limit:
            raise BadPeriod(f"pastDays must be a number from 1 to {limit}")
        count = int(raw)
        # pastDays counts today as the first of the past days.
        return [today - timedelta(days=count - 1 - i) for i in range(count)]
    raise BadPeriod("Give a date in the path, from and to, or pastDays")
