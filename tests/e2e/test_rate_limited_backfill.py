"""A backfill that runs into Moves' own rate limit, through a real worker and real HTTP."""

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings

from datauploader.tasks import enqueue_process_moves
from main.models import MovesMember
from sandbox import testing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Windows of 0.1 s (minute) and 6 s (hour) on both sides.
TIME_SCALE = 600
FIRST_DATE = date(2021, 1, 4)  # a Monday, so the history is exactly ten ISO weeks
HISTORY_DAYS = 70


@pytest.fixture
def app_realms(settings) -> Iterator[None]:
    """The app's realms at Moves' published numbers, in compressed time.

    The requester is built once at import, so its realms are set here and
    put back afterwards rather than through the settings fixture.
    """
    requester = django_settings.MOVES_REQUESTER
    saved = {
        realm: (requester.realm_max_requests(realm), requester.realm_timespan(realm))
        for realm in requester.fetch_registered_realms()
    }
    settings.RATE_LIMIT_TIME_SCALE = TIME_SCALE
    settings.MOVES_MINUTE_WINDOW_SECONDS = 60 / TIME_SCALE
    settings.MOVES_HOUR_WINDOW_SECONDS = 3600 / TIME_SCALE
    requester.register_realm("moves", max_requests=60, timespan=60 / TIME_SCALE)
    requester.register_realm("moves-hourly", max_requests=2000, timespan=3600 / TIME_SCALE)
    yield
    for realm, (max_requests, timespan) in saved.items():
        requester.register_realm(realm, max_requests=max_requests, timespan=timespan)


def test_backfill_after_moves_429_completes_with_each_day_once(
    sandbox_urls, app_realms, celery_worker, make_member, settings, caplog
):
    """Moves allows fewer requests than the app's realm expects, so it answers 429.

    The run stops, re-enqueues itself for when the window reopens (a real
    countdown in a real worker), and later runs finish the backfill.
    """
    settings.SANDBOX_MOVES_REQUESTS_PER_MINUTE = 3
    walker = testing.create_moves_user("sprinter", first_date=FIRST_DATE, days=HISTORY_DAYS)
    moves_access, moves_refresh = testing.issue_moves_tokens(walker)
    oh_member = testing.create_oh_member("sprinter")
    oh_access, oh_refresh = testing.issue_oh_tokens(oh_member)
    member = make_member(
        oh_id=oh_member.project_member_id,
        moves_id=walker.moves_id,
        access_token=moves_access,
        refresh_token=moves_refresh,
    )
    member.member.store_tokens(oh_access, oh_refresh, 36000)
    member.member.save()

    enqueue_process_moves(member.member.oh_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        member.refresh_from_db()
        if member.status == MovesMember.Status.CURRENT:
            break
        time.sleep(0.2)

    refusals = [r for r in caplog.records if r.name == "django.request" and r.status_code == 429]
    assert refusals, "the sandbox never answered 429, so the test proved nothing"
    assert member.status == MovesMember.Status.CURRENT, member.last_error
    [stored] = testing.stored_files(oh_member)
    dates = [day["date"] for day in json.loads(testing.read_file_bytes(stored))]
    # Moves answers every day up to today: the history's days, then days without data.
    expected = [(FIRST_DATE + timedelta(days=n)).strftime("%Y%m%d") for n in range(len(dates))]
    assert dates == expected
    assert len(dates) >= HISTORY_DAYS
    assert member.days_held == len(dates)
