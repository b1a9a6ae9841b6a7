"""Which days a Moves daily request asks for, with the API's documented limits.

Accepted forms: a path element (a day ``yyyyMMdd``, an ISO week
``yyyy-'W'ww``, or, for summaries only, a month ``yyyyMM``), or ``from`` and
``to``, or ``pastDays``. Documented limits, on the user's own calendar (the
current day in their current time zone):

- "The from/to date range in API calls must be between firstDate in user
  profile and the current day", at most 31 days (7 with track points);
- "When requesting data for a specific week or month, the week/month must be
  between week/month of first date in user profile and current week/month";
  within an allowed week or month, days before firstDate and after today are
  left out.

Anything else raises ``BadPeriod`` (HTTP 400). Where the documentation is
silent the stand-in is strict: a single day must lie in firstDate..today
too; ``pastDays`` must count 1..31 (7) days and leaves out days before
firstDate; a user without firstDate has no period at all.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MAX_DAYS = 31
MAX_DAYS_WITH_TRACK_POINTS = 7

_DAY = re.compile(r"^\d{8}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})(\d{2})$")
_UPDATED_SINCE = re.compile(r"^(\d{8}T\d{6})(Z|[+-]\d{4})$")


class BadPeriod(ValueError):
    """The request names no valid period; the message goes into the 400 reply."""


@dataclass(frozen=True)
class Calendar:
    """The user's own calendar: their first day with data and their today."""

    first: date | None
    today: date

    def check(self) -> date:
        if self.first is None:
            raise BadPeriod("The user has no data yet (no firstDate)")
        return self.first

    def within(self, days: list[date]) -> list[date]:
        first = self.check()
        return [day for day in days if first <= day <= self.today]


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


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def days_for_path(period: str, params: Mapping[str, str], calendar: Calendar, months: bool) -> list[date]:
    if any(key in params for key in ("from", "to", "pastDays")):
        raise BadPeriod("Give either a date in the path or from/to/pastDays, not both")
    if _DAY.match(period):
        day = parse_day(period)
        first = calendar.check()
        if not first <= day <= calendar.today:
            raise BadPeriod(
                f"The date must be between firstDate {first:%Y%m%d} and today {calendar.today:%Y%m%d}"
            )
        return [day]
    week = _WEEK.match(period)
    if week:
        try:
            monday = date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1)
        except ValueError:
            raise BadPeriod(f"Invalid week: {period!r}") from None
        first = calendar.check()
        if not _monday(first) <= monday <= _monday(calendar.today):
            raise BadPeriod(
                f"The week must be between the week of firstDate {first:%Y%m%d} and the current week"
            )
        return calendar.within([monday + timedelta(days=i) for i in range(7)])
    month = _MONTH.match(period)
    if month:
        if not months:
            raise BadPeriod("Month periods are only available for summaries")
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise BadPeriod(f"Invalid month: {period!r}")
        start = date(year, number, 1)
        first = calendar.check()
        if not first.replace(day=1) <= start <= calendar.today.replace(day=1):
            raise BadPeriod(
                f"The month must be between the month of firstDate {first:%Y%m%d} and the current month"
            )
        following = date(year + number // 12, number % 12 + 1, 1)
        return calendar.within([start + timedelta(days=i) for i in range((following - start).days)])
    raise BadPeriod(f"Invalid date: {period!r} (expected yyyyMMdd or yyyy-Www)")


def days_for_query(params: Mapping[str, str], track_points: bool, calendar: Calendar) -> list[date]:
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
        start = calendar.check()
        if first < start or last > calendar.today:
            raise BadPeriod(
                f"The range must be between firstDate {start:%Y%m%d} and today {calendar.today:%Y%m%d}"
            )
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if "pastDays" in params:
        raw = params["pastDays"]
        if not raw.isdigit() or not 1 <= int(raw) <= limit:
            raise BadPeriod(f"pastDays must be a number from 1 to {limit}")
        count = int(raw)
        # pastDays counts today as the first of the past days.
        return calendar.within([calendar.today - timedelta(days=count - 1 - i) for i in range(count)])
    raise BadPeriod("Give a date in the path, from and to, or pastDays")
