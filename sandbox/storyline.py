"""A sandbox Moves user's storyline as stored state, and the changes that move it after the fact.

``sandbox.synthetic`` generates; this module reads the user's row (and their
uploads, edits and renames) into a ``History`` and changes it the way a
person's phone and hands would: the person travels (their current time zone
changes and every day is cut by it), the phone goes offline and syncs later,
a day is added to a finished history, an activity is edited, a place is
renamed. Every change of the storyline queues a notification (see
``sandbox.outbox``) for the app's callback.
"""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sandbox import outbox, synthetic
from sandbox.models import ActivityEdit, PlaceRename, SandboxMovesUser, StorylineUpload


class CannotChange(ValueError):
    """The change makes no sense for this user now; the message says why."""


def history_of(user: SandboxMovesUser) -> synthetic.History:
    return synthetic.History(
        moves_id=user.moves_id,
        city=user.city,
        zone=user.time_zone,
        first_date=user.first_date,
        last_date=user.last_date,
        created=user.created.timestamp(),
        offline_since=user.offline_since.timestamp() if user.offline_since else None,
        uploads=tuple(
            (u.since.timestamp(), u.uploaded_at.timestamp())
            for u in StorylineUpload.objects.filter(user=user)
        ),
        renames=tuple(
            (r.place_id, r.name, r.renamed_at.timestamp()) for r in PlaceRename.objects.filter(user=user)
        ),
        edits=tuple(
            (e.day_ordinal, e.segment, e.index, e.activity, e.edited_at.timestamp())
            for e in ActivityEdit.objects.filter(user=user)
        ),
    )


def today_of(user: SandboxMovesUser) -> date:
    """The user's own date: today in their current time zone."""
    return synthetic.local_today(user.time_zone)


def days(
    user: SandboxMovesUser, wanted: list[date], track_points: bool, zone: str | None = None
) -> list[dict]:
    """The day objects the storyline endpoint answers for ``wanted`` (already within range).

    ``zone`` cuts the days by another zone than the user's current one (the ``timeZone`` parameter).
    """
    history = history_of(user)
    if zone:
        history = replace(history, zone=zone)
    return synthetic.storyline(history, wanted, track_points, now=timezone.now().timestamp())


def change_time_zone(user: SandboxMovesUser, zone: str) -> None:
    """The person is now in ``zone``: the profile says so and every day is cut by it.

    The places stay where they are (the person's city does not move).
    """
    if not synthetic.is_zone(zone):
        raise CannotChange(f"{zone!r} is not a time zone name.")
    user.time_zone = zone
    user.save(update_fields=["time_zone"])


def go_offline(user: SandboxMovesUser, days_offline: int) -> datetime:
    """The phone has uploaded nothing for ``days_offline`` days: those days lose their data until it syncs."""
    if days_offline < 1:
        raise CannotChange("A phone is offline for at least one day.")
    if user.offline_since is not None:
        raise CannotChange(f"{user.name}'s phone is offline already; sync it first.")
    now = timezone.now()
    end = synthetic.recorded_end(history_of(user), now.timestamp())
    since = datetime.fromtimestamp(end, tz=UTC) - timedelta(days=days_offline)
    user.offline_since = since
    user.save(update_fields=["offline_since"])
    return since


@dataclass(frozen=True)
class Change:
    """What a change did, for the page's feedback and the tests."""

    description: str
    update: dict | None


def sync(user: SandboxMovesUser) -> Change:
    """The phone comes back online and uploads what it recorded meanwhile, all at once."""
    if user.offline_since is None:
        raise CannotChange(f"{user.name}'s phone is online; nothing waits to be uploaded.")
    now = timezone.now()
    with transaction.atomic():
        since = user.offline_since
        StorylineUpload.objects.create(user=user, since=since, uploaded_at=now)
        user.offline_since = None
        user.save(update_fields=["offline_since"])
        span = synthetic.uploaded_between(
            history_of(user), since.timestamp(), now.timestamp(), now.timestamp()
        )
        update = _notify(user, "DataUpload", span)
    return Change(f"{user.name}'s phone synced what it recorded since {since:%Y-%m-%d %H:%M} UTC", update)


def add_day(user: SandboxMovesUser) -> Change:
    """A finished history gets one more day (up to the user's today), uploaded now."""
    if user.first_date is None:
        raise CannotChange(f"{user.name} has no history to extend.")
    if user.last_date is None:
        raise CannotChange(f"{user.name}'s history grows with the clock already.")
    if user.last_date >= today_of(user):
        raise CannotChange(f"{user.name}'s history already reaches their today.")
    now = timezone.now()
    zone = synthetic.ZoneInfo(user.time_zone)
    end_before = datetime.combine(user.last_date + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    with transaction.atomic():
        user.last_date += timedelta(days=1)
        user.save(update_fields=["last_date"])
        StorylineUpload.objects.create(user=user, since=end_before, uploaded_at=now)
        span = synthetic.uploaded_between(
            history_of(user), end_before.timestamp(), now.timestamp(), now.timestamp()
        )
        update = _notify(user, "DataUpload", span)
    return Change(f"Added {user.last_date:%Y-%m-%d} to {user.name}'s history", update)


def edit_day(user: SandboxMovesUser, day: date) -> Change:
    """The person corrects one activity of ``day`` by hand (a walk was a run, a ride a bus)."""
    now = timezone.now()
    target = synthetic.edit_target(history_of(user), day, now.timestamp())
    if target is None:
        raise CannotChange(f"{user.name} has no activity on {day:%Y-%m-%d} to edit.")
    ordinal, segment, index = target.key
    with transaction.atomic():
        ActivityEdit.objects.create(
            user=user, day_ordinal=ordinal, segment=segment, index=index, activity=target.new, edited_at=now
        )
        update = _notify(user, "DataUpload", target.span)
    return Change(f"Edited {user.name}'s {day:%Y-%m-%d}: {target.old} is now {target.new}", update)


def places_of(user: SandboxMovesUser) -> list[tuple[synthetic.Place, str]]:
    """The user's places with the name they carry now ("unnamed" for unknown places)."""
    renamed = dict(PlaceRename.objects.filter(user=user).values_list("place_id", "name"))
    places = synthetic.persona(user.moves_id, user.city).places
    return [(place, renamed.get(place.id) or place.name or "unnamed") for place in places]


def rename_place(user: SandboxMovesUser, place_id: int, name: str) -> Change:
    """The person (re)names a place: every day where it appears changes.

    Naming a place Moves knew only as "unknown" makes it the person's own
    (reason PlaceUpdate); renaming a named one is a PlaceRename.
    """
    name = name.strip()
    if not name:
        raise CannotChange("A place needs a name.")
    place = next((p for p in synthetic.persona(user.moves_id, user.city).places if p.id == place_id), None)
    if place is None:
        raise CannotChange(f"{user.name} has no place {place_id}.")
    now = timezone.now()
    had_name = place.name is not None or PlaceRename.objects.filter(user=user, place_id=place_id).exists()
    with transaction.atomic():
        PlaceRename.objects.create(user=user, place_id=place_id, name=name, renamed_at=now)
        span = synthetic.place_span(history_of(user), place_id, now.timestamp())
        update = _notify(user, "PlaceRename" if had_name else "PlaceUpdate", span)
    return Change(f"Renamed {user.name}'s place {place_id} to {name!r}", update)


def _notify(user: SandboxMovesUser, reason: str, span: synthetic.Span | None) -> dict | None:
    """Queue the notification of a change (none when nothing visible changed)."""
    if span is None:
        return None
    update = span.as_update(reason)
    outbox.queue_storyline_update(user, update)
    return update
