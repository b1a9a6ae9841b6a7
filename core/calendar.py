"""The member's own calendar: what "today" is for them, and which weeks may still change.

Moves cuts days by the user's *current* time zone (profile
``currentTimeZone``) and refuses weeks that have not begun in it, so every
date decision about a member is made in their zone, not the server's.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from apiclients.dates import monday_of

ONE_WEEK = timedelta(days=7)


def member_today(time_zone: str, now: datetime | None = None) -> date:
    """The member's local date now; UTC when their zone is unknown or not one Python knows."""
    now = now or timezone.now()
    try:
        zone = ZoneInfo(time_zone) if time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def weeks_between(first: date, last: date) -> list[date]:
    """Mondays of every ISO week from the one holding ``first`` to the one holding ``last``."""
    monday, end = monday_of(first), monday_of(last)
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += ONE_WEEK
    return weeks


def weeks_to_update(today: date, last_success: date | None, first_date: date | None) -> list[date]:
    """Weeks an update fetches again: the current and previous week, and every week since the last success.

    The storyline of a finished day still changes (it is rebuilt every few
    hours and when the phone syncs, offline phones upload late, people edit
    places and activities), so a week is never final just because it ended.
    """
    start = monday_of(today) - ONE_WEEK
    if last_success is not None:
        start = min(start, monday_of(last_success))
    if first_date is not None:
        start = max(start, monday_of(first_date))
    return weeks_between(start, today) if start <= today else []


def weeks_in_history(first_date: date, today: date) -> int:
    return len(weeks_between(first_date, today))
