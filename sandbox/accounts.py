"""Creating sandbox Moves users and Open Humans members."""

import random
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.models import MovesToken, OHToken, SandboxMovesUser, SandboxOHMember
from sandbox.synthetic import CITIES, default_time_zone, local_today

_ids = random.SystemRandom()


def _unique_number(model, field: str, low: int, high: int) -> int:
    while True:
        value = _ids.randint(low, high)
        if not model.objects.filter(**{field: value}).exists():
            return value


def create_moves_user(
    name: str, first_date: date | None = None, days: int | None = None, time_zone: str | None = None
) -> SandboxMovesUser:
    """A Moves user with a history of ``days`` days starting at ``first_date``.

    Without ``first_date`` the history ends today (``days`` defaults to
    SANDBOX_HISTORY_DAYS) and keeps growing day by day. With both, the
    history stops after ``days`` days; later days answer as days without data.
    """
    if days is not None and days < 1:
        raise ValueError("days must be at least 1")
    if time_zone is not None and time_zone not in CITIES:
        raise ValueError(f"time_zone must be one of {', '.join(sorted(CITIES))}")
    moves_id = _unique_number(SandboxMovesUser, "moves_id", 10_000_000, 99_999_999)
    zone = time_zone or default_time_zone(moves_id)
    last_date = None
    if first_date is None:
        length = days or settings.SANDBOX_HISTORY_DAYS
        first_date = local_today(zone) - timedelta(days=length - 1)
    elif days is not None:
        last_date = first_date + timedelta(days=days - 1)
    return SandboxMovesUser.objects.create(
        name=name, moves_id=moves_id, first_date=first_date, last_date=last_date, time_zone=zone
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


def oh_member_named(
    username: str, message_permission: bool = True, share_username: bool = True
) -> SandboxOHMember:
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
    member.message_permission = message_permission
    member.share_username = share_username
    member.active = True
    member.save(update_fields=["message_permission", "share_username", "active"])
    return member


def leave_project(member: SandboxOHMember) -> None:
    """The member leaves: Open Humans revokes the project's tokens at once."""
    member.active = False
    member.save(update_fields=["active"])
    OHToken.objects.filter(member=member, revoked_at__isnull=True).update(revoked_at=timezone.now())


def revoke_moves_access(user: SandboxMovesUser) -> int:
    """The user disconnects the app in Moves: every live token pair of theirs stops working."""
    return MovesToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
