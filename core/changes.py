"""Changes Moves told us about (storyline notifications), kept as weeks to fetch again.

A notification names a span of time in UTC. The member's days are cut in
their own time zone, so the span is turned into their local dates, and
then into the ISO weeks that hold them; those weeks wait as ``PendingWeek``
rows (one per week, however many notifications named it) until a run
fetches them, ahead of any backfill.
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from core import jobs
from core.calendar import member_today, weeks_between
from core.models import MovesMember, PendingWeek


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime


def local_dates(span: Span, time_zone: str) -> tuple[date, date]:
    try:
        zone = ZoneInfo(time_zone) if time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    start, end = sorted((span.start, span.end))
    return start.astimezone(zone).date(), end.astimezone(zone).date()


def record_changes(moves_user_id: int, spans: list[Span]) -> int | None:
    """Note the weeks ``spans`` touch for the member with this Moves id; None if we hold no such member.

    Returns how many weeks were newly added to fetch.
    """
    member = MovesMember.objects.syncable().filter(moves_id=moves_user_id).first()
    if member is None:
        return None
    today = member_today(member.time_zone)
    mondays: set[date] = set()
    for span in spans:
        first, last = local_dates(span, member.time_zone)
        if member.first_date is not None:
            first = max(first, member.first_date)
        last = min(last, today)
        if first <= last:
            mondays.update(weeks_between(first, last))
    with transaction.atomic():
        known = set(PendingWeek.objects.filter(moves_member=member).values_list("monday", flat=True))
        new = sorted(mondays - known)
        PendingWeek.objects.bulk_create(
            [PendingWeek(moves_member=member, monday=monday) for monday in new], ignore_conflicts=True
        )
        member.notified(len(new))
        jobs.wake_dispatcher()
    return len(new)
