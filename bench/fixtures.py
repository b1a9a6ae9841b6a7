"""Members with N years of Moves history, on both sides of the sandbox.

Called in the orchestrating process once Django is set up against the
benchmark database (the sandbox server uses the same one).
"""

from dataclasses import dataclass
from datetime import date, timedelta


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


def sandbox_member(name: str, years: int) -> BenchMember:
    """An Open Humans member with tokens for the sandbox Moves user whose history starts ``years`` ago.

    Every member of the same ``years`` shares one Moves user (their own
    tokens), so ours and the baseline move exactly the same data.
    """
    from sandbox import testing
    from sandbox.models import SandboxMovesUser
    from sandbox.synthetic import local_today

    zone = "Europe/Berlin"
    today = local_today(zone)
    first = years_ago(today, years)
    user = SandboxMovesUser.objects.filter(name=f"bench-{years}y").first() or testing.create_moves_user(
        f"bench-{years}y", first_date=first, time_zone=zone
    )
    moves_access, moves_refresh = testing.issue_moves_tokens(user)
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
    )


def app_member(bench: BenchMember) -> None:
    """The app's own records of ``bench``, as after both OAuth connections."""
    from django.contrib.auth import get_user_model

    from main.models import MovesMember
    from open_humans.models import OpenHumansMember
    from sandbox.moves_views import TOKEN_EXPIRES_IN as MOVES_EXPIRES_IN
    from sandbox.openhumans_views import TOKEN_EXPIRES_IN as OH_EXPIRES_IN

    user = get_user_model().objects.create_user(username=f"oh-{bench.project_member_id}")
    oh_member = OpenHumansMember(user=user, oh_id=bench.project_member_id, username=bench.name)
    oh_member.store_tokens(bench.oh_access, bench.oh_refresh, OH_EXPIRES_IN)
    oh_member.save()
    moves_member = MovesMember(member=oh_member, moves_id=bench.moves_id)
    moves_member.store_tokens(bench.moves_access, bench.moves_refresh, MOVES_EXPIRES_IN)
    moves_member.save()


def stored_file_sizes(project_member_id: str) -> list[int]:
    """Sizes of the member's completed files in the sandbox (what Open Humans holds now)."""
    from sandbox.models import SandboxFile

    return [
        f.size or 0
        for f in SandboxFile.objects.filter(
            member__project_member_id=project_member_id, completed_at__isnull=False
        )
    ]
