"""The end check of a benchmark run: every member's file on Open Humans is what Moves serves.

Day by day: each member holds exactly one completed file of the project,
a JSON list holding every day from the first day of their history to their
today exactly once, in order, and each day equal to the day object the
stand-in Moves answers for it now (``sandbox.testing.storyline_days``, the
very function its storyline endpoint calls).
"""

import json
from datetime import timedelta

from bench.fixtures import BenchMember

# Days generated per call: a month at a time keeps the stand-in's work per call small.
CHUNK_DAYS = 35


def check_member(bench: BenchMember) -> tuple[int, list[str]]:
    """(days compared, what is wrong) of ``bench``'s file on Open Humans; nothing wrong: an empty list."""
    from sandbox import accounts, testing
    from sandbox.models import SandboxFile, SandboxMovesUser
    from sandbox.storyline import today_of

    files = list(
        SandboxFile.objects.filter(
            member__project_member_id=bench.project_member_id,
            source=accounts.SOURCE,
            completed_at__isnull=False,
        ).order_by("id")
    )
    who = bench.name
    if len(files) != 1:
        return 0, [f"{who}: {len(files)} files on Open Humans, not one"]
    try:
        days = json.loads(testing.read_file_bytes(files[0]))
    except (OSError, ValueError) as exc:
        return 0, [f"{who}: the file does not read as JSON ({exc})"]
    if not isinstance(days, list) or not all(isinstance(day, dict) for day in days):
        return 0, [f"{who}: the file is not a list of days"]
    user = SandboxMovesUser.objects.get(pk=bench.moves_user_pk)
    today = today_of(user)
    wanted = [bench.first_date + timedelta(days=n) for n in range((today - bench.first_date).days + 1)]
    held = [day.get("date") for day in days]
    expected_dates = [f"{day:%Y%m%d}" for day in wanted]
    if held != expected_dates:
        missing = sorted(set(expected_dates) - set(held))
        extra = sorted(set(held) - set(expected_dates))
        repeated = len(held) - len(set(held))
        return 0, [
            f"{who}: days held do not match {wanted[0]}..{wanted[-1]} "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''} of {len(missing)}, "
            f"extra {extra[:3]}, {repeated} repeated, in order: {held == sorted(held)})"
        ]
    problems = []
    for start in range(0, len(wanted), CHUNK_DAYS):
        chunk = wanted[start : start + CHUNK_DAYS]
        served = testing.storyline_days(user, chunk[0], chunk[-1], track_points=True, today=today)
        for day, theirs, ours in zip(chunk, served, days[start : start + CHUNK_DAYS], strict=True):
            if theirs != ours:
                problems.append(f"{who}: {day} differs from what Moves serves")
    more = [f"{who}: {len(problems) - 5} more days differ"] if len(problems) > 5 else []
    return len(wanted), problems[:5] + more


def check_members(members: list[BenchMember]) -> tuple[int, list[str]]:
    """(days compared, problems) over every member."""
    problems: list[str] = []
    compared = 0
    for bench in members:
        days, found = check_member(bench)
        compared += days
        problems += found
    return compared, problems
