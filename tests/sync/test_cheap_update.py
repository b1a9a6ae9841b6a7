"""A daily update of a member whose data is current costs at most two Moves requests."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from apiclients import moves
from datauploader.tasks import process_moves
from main.models import MovesMember
from sandbox import testing
from tests.sync.conftest import TODAY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def moves_requests(monkeypatch) -> list[str]:
    """The URLs of Moves API calls, noted at the client's transport."""
    seen: list[str] = []
    real_send = moves.send

    def send(method, url, **kwargs):
        seen.append(url)
        return real_send(method, url, **kwargs)

    monkeypatch.setattr(moves, "send", send)
    return seen


@pytest.mark.parametrize(
    ("last_run", "weeks"),
    [(date(2018, 3, 13), ["2018-W11"]), (date(2018, 3, 10), ["2018-W10", "2018-W11"])],
    ids=["same-week", "across-a-week-boundary"],
)
def test_a_daily_update_asks_moves_for_at_most_two_weeks(sandbox_accounts, moves_requests, last_run, weeks):
    # Forty weeks of history: one run fetches it all within a minute's limit.
    first = date(2017, 6, 5)
    accounts = sandbox_accounts("daily-" + last_run.isoformat(), first, (TODAY - first).days + 1)
    with time_machine.travel(datetime(last_run.year, last_run.month, last_run.day, 12, 0, tzinfo=UTC)):
        process_moves.apply(args=[accounts.oh_id]).get()
    moves_requests.clear()

    process_moves.apply(args=[accounts.oh_id]).get()

    assert [url.rsplit("/", 1)[-1] for url in moves_requests] == weeks
    member = MovesMember.objects.get(pk=accounts.member.pk)
    assert member.status == MovesMember.Status.CURRENT
    assert member.last_day_held == TODAY
    assert len(testing.stored_files(accounts.oh_member)) == 1
