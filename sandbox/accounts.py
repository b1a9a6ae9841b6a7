"""Creating sandbox Moves users and Open Humans members, and what they do to their accounts."""

import json
import random
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox import outbox, storage, synthetic
from sandbox.models import MovesToken, OHToken, SandboxFile, SandboxMovesUser, SandboxOHMember

_ids = random.SystemRandom()

# The stand-in project (the app's own), and its source label on Open Humans files.
PROJECT_ID = 138
SOURCE = f"direct-sharing-{PROJECT_ID}"
# Another project's files, shared with ours by members who chose to.
OTHER_SOURCE = "direct-sharing-128"
OTHER_FILE_BYTES = json.dumps(
    [{"date": "20190201", "summary": None, "segments": None, "note": "written by another project"}]
).encode()


def _unique_number(model, field: str, low: int, high: int) -> int:
    while True:
        value = _ids.randint(low, high)
        if not model.objects.filter(**{field: value}).exists():
            return value


def create_moves_user(
    name: str,
    first_date: date | None = None,
    days: int | None = None,
    time_zone: str | None = None,
    city: str | None = None,
    moves_id: int | None = None,
) -> SandboxMovesUser:
    """A Moves user with a history of ``days`` days starting at ``first_date``.

    Without ``first_date`` the history ends today (``days`` defaults to
    SANDBOX_HISTORY_DAYS) and keeps growing with the clock. With both, the
    history stops after ``days`` days; later days answer as days without data.
    ``city`` (a key of ``synthetic.CITIES``) is where the person lives;
    ``time_zone`` their current zone, by default their city's. A zone alone
    picks the city of that zone when there is one. A given ``moves_id``
    pins the persona (tests that need a particular life).
    """
    if days is not None and days < 1:
        raise ValueError("days must be at least 1")
    if city is not None and city not in synthetic.CITIES:
        raise ValueError(f"city must be one of {', '.join(sorted(synthetic.CITIES))}")
    if time_zone is not None and not synthetic.is_zone(time_zone):
        raise ValueError(f"{time_zone!r} is not a time zone name")
    if moves_id is None:
        # Above 2**53 like real ids, below 2**63.
        moves_id = _unique_number(SandboxMovesUser, "moves_id", 10**16, 9 * 10**16)
    home = (
        synthetic.CITIES[city]
        if city
        else (synthetic.city_for_zone(time_zone) if time_zone else None) or synthetic.default_city(moves_id)
    )
    zone = time_zone or home.zone
    last_date = None
    if first_date is None:
        length = days or settings.SANDBOX_HISTORY_DAYS
        first_date = synthetic.local_today(zone) - timedelta(days=length - 1)
    elif days is not None:
        last_date = first_date + timedelta(days=days - 1)
    return SandboxMovesUser.objects.create(
        name=name,
        moves_id=moves_id,
        city=home.key,
        time_zone=zone,
        first_date=first_date,
        last_date=last_date,
    )


def moves_user_named(name: str, days: int | None = None) -> SandboxMovesUser:
    """The user called ``name``, created with a history of ``days`` days if new."""
    existing = SandboxMovesUser.objects.filter(name=name).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return create_moves_user(name, days=days)
    except IntegrityError:
        # Someone created the same name a moment ago; use theirs.
        return SandboxMovesUser.objects.get(name=name)


def revoke_moves_access(user: SandboxMovesUser) -> int:
    """The user disconnects the app in Moves: every live token pair of theirs stops working."""
    return MovesToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def oh_member_named(username: str, share_username: bool = True) -> SandboxOHMember:
    """The member called ``username`` (rejoining the project if they had left), created if new."""
    member = SandboxOHMember.objects.filter(username=username).first()
    if member is None:
        try:
            with transaction.atomic():
                member = SandboxOHMember.objects.create(
                    username=username,
                    project_member_id=str(
                        _unique_number(SandboxOHMember, "project_member_id", 10**7, 10**8 - 1)
                    ),
                )
        except IntegrityError:
            member = SandboxOHMember.objects.get(username=username)
    member.share_username = share_username
    member.active = True
    member.save(update_fields=["share_username", "active"])
    return member


def leave_project(
    member: SandboxOHMember, erasure_requested: bool = False, remove_files: bool = False
) -> int:
    """The member leaves the project, as Open Humans' ``leave_project`` does it.

    Their tokens are revoked at once, then the deauthorisation webhook is
    queued (sent off this thread), then, if they asked, the project's files
    are removed. Returns how many tokens were revoked.
    """
    now = timezone.now()
    with transaction.atomic():
        member.active = False
        member.save(update_fields=["active"])
        revoked = OHToken.objects.filter(member=member, revoked_at__isnull=True).update(revoked_at=now)
        outbox.queue_deauthorization(member, erasure_requested, now)
        if remove_files:
            doomed = list(SandboxFile.objects.filter(member=member, source=SOURCE))
            SandboxFile.objects.filter(pk__in=[f.pk for f in doomed]).delete()
    if remove_files:
        for file in doomed:
            storage.remove(file)
    return revoked


def share_other_source(member: SandboxOHMember, on: bool = True) -> SandboxFile | None:
    """The member shares (or stops sharing) another project's data with ours.

    That project holds a file with our file's name, ``moves-storyline-data.json``.
    """
    member.shares_other_source = on
    member.save(update_fields=["shares_other_source"])
    existing = SandboxFile.objects.filter(member=member, source=OTHER_SOURCE)
    if not on:
        for file in existing:
            storage.remove(file)
        existing.delete()
        return None
    if existing.exists():
        return existing.first()
    now = timezone.now()
    file = SandboxFile.objects.create(
        member=member,
        basename="moves-storyline-data.json",
        source=OTHER_SOURCE,
        metadata={"description": "Moves data kept by another project", "tags": ["Moves", "GPS"]},
        upload_expires=now,
        completed_at=now,
    )
    storage.store_bytes(file, OTHER_FILE_BYTES)
    return file
