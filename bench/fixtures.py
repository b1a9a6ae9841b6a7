"""Members with W weeks of Moves history, on both sides of the stand-ins.

Called in the orchestrating process once Django is set up against the
benchmark database (``bench.env.ORCHESTRATOR_SETTINGS``: the stand-ins'
server reads the same database).
"""

from dataclasses import dataclass
from datetime import date, timedelta

# Moves doubles the limits of a token issued less than an hour ago; the
# benchmark's tokens are older, so the stand-in enforces the normal limits.
TOKEN_AGE_SECONDS = 2 * 3600
# A history ends this many days before today: the stand-in's phones upload
# in slots (``sandbox.synthetic.SYNC_SECONDS``), so the last days would still
# change while a run lasts and no two reads of them would agree.
ENDS_DAYS_AGO = 2


@dataclass(frozen=True)
class BenchMember:
    name: str
    first_date: date
    weeks: int
    moves_access: str
    moves_refresh: str
    oh_access: str
    oh_refresh: str
    project_member_id: str
    moves_id: int
    moves_user_pk: int


def years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def iso_weeks_between(first: date, last: date) -> int:
    """How many ISO weeks hold at least one day of ``first``..``last``."""
    first_monday = first - timedelta(days=first.weekday())
    last_monday = last - timedelta(days=last.weekday())
    return (last_monday - first_monday).days // 7 + 1


def first_date_for_weeks(today: date, weeks: int) -> date:
    """The Monday that makes a history up to ``today`` span exactly ``weeks`` ISO weeks."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)


def sandbox_member(name: str, first: date, *, shared_user: str | None = None) -> BenchMember:
    """An Open Humans member holding tokens for a Moves user whose history starts at ``first``.

    Each member gets a Moves user of their own (their own life), unless
    ``shared_user`` names one to share (ours and the original design then
    move exactly the same data).
    """
    from sandbox import testing
    from sandbox.models import SandboxMovesUser
    from sandbox.synthetic import local_today

    zone = "Europe/Berlin"
    today = local_today(zone)
    user = SandboxMovesUser.objects.filter(name=shared_user).first() if shared_user else None
    if user is None:
        last = today - timedelta(days=ENDS_DAYS_AGO)
        user = testing.create_moves_user(
            shared_user or f"moves-{name}",
            first_date=first,
            days=max(1, (last - first).days + 1),
            time_zone=zone,
        )
    moves_access, moves_refresh = testing.issue_moves_tokens(user, age=TOKEN_AGE_SECONDS)
    member = testing.create_oh_member(name)
    oh_access, oh_refresh = testing.issue_oh_tokens(member)
    return BenchMember(
        name=name,
        first_date=first,
        weeks=iso_weeks_between(first, today),
        moves_access=moves_access,
        moves_refresh=moves_refresh,
        oh_access=oh_access,
        oh_refresh=oh_refresh,
        project_member_id=member.project_member_id,
        moves_id=user.moves_id,
        moves_user_pk=user.pk,
    )


def signed_in(bench: BenchMember):
    """The app's record of ``bench`` after their Open Humans sign-in (no Moves connection yet)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apiclients.oauth import TokenGrant
    from open_humans.models import OpenHumansMember
    from sandbox.openhumans_views import TOKEN_EXPIRES_IN as OH_EXPIRES_IN

    user = get_user_model().objects.create_user(username=f"oh-{bench.project_member_id}")
    member = OpenHumansMember(user=user, oh_id=bench.project_member_id, username=bench.name)
    member.set_tokens(TokenGrant(bench.oh_access, bench.oh_refresh, OH_EXPIRES_IN))
    member.signed_in_at = timezone.now()
    member.save()
    return member


def connect_all(members: list[tuple[BenchMember, object]]) -> float:
    """Connect Moves for every (member, their OpenHumansMember) at once; returns when (epoch) it committed.

    Each connection goes through ``core.accounts.connect_moves``, as the
    OAuth callback does; all in one transaction, so every member is queued
    at the same moment and the dispatcher is woken when it commits.
    """
    import time

    from django.db import transaction

    from apiclients.oauth import TokenGrant
    from core.accounts import connect_moves
    from sandbox.moves_views import TOKEN_EXPIRES_IN as MOVES_EXPIRES_IN

    committed = [0.0]
    with transaction.atomic():
        # First in line, so it runs before the wake-ups the connections queue.
        transaction.on_commit(lambda: committed.__setitem__(0, time.time()))
        for bench, oh_member in members:
            grant = TokenGrant(
                bench.moves_access, bench.moves_refresh, MOVES_EXPIRES_IN, user_id=bench.moves_id
            )
            connect_moves(oh_member, grant)  # type: ignore[arg-type]
    return committed[0]


def stored_file_sizes(project_member_id: str) -> list[int]:
    """Sizes of the member's completed files in the stand-in (what Open Humans holds now), oldest first."""
    from sandbox.models import SandboxFile

    return [
        f.size or 0
        for f in SandboxFile.objects.filter(
            member__project_member_id=project_member_id, completed_at__isnull=False
        ).order_by("id")
    ]
