"""views.dashboard_day: any day's map and timeline; a recent one from the database, an older by byte range."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apiclients.dates import parse_day
from apiclients.oauth import TokenGrant
from apiclients.openhumans import OpenHumansClient
from core import accounts
from core.days import HAS_DATA, calendar, day_map
from core.models import MovesMember, RecentDay
from datauploader.dispatch import Dispatcher
from open_humans.models import OpenHumansMember
from sandbox import testing
from tests.main.conftest import recent_day


@pytest.fixture
def backfilled(sandbox_server, settings) -> tuple[MovesMember, object]:
    """A member with 60 days of sandbox history, fetched and uploaded inline (tests run Celery eagerly)."""
    testing.point_app_at_sandbox(settings, sandbox_server.url)
    settings.RATE_LIMIT_TIME_SCALE = 60
    settings.OH_SOURCE_LABEL = ""
    walker = testing.create_moves_user("walker", days=60)
    oh = testing.create_oh_member("walker")
    oh_access, oh_refresh = testing.issue_oh_tokens(oh)
    moves_access, moves_refresh = testing.issue_moves_tokens(walker, age=7200)
    user = get_user_model().objects.create_user(username=f"oh-{oh.project_member_id}")
    oh_member = OpenHumansMember.objects.create(
        user=user,
        oh_id=oh.project_member_id,
        access_token=oh_access,
        refresh_token=oh_refresh,
        token_expires=timezone.now() + timedelta(hours=10),
    )
    member = accounts.connect_moves(
        oh_member, TokenGrant(moves_access, moves_refresh, 15551998, walker.moves_id)
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        Dispatcher().dispatch()
        member.refresh_from_db()
        if member.sync_wanted_since is None and not member.is_running:
            break
        time.sleep(0.05)
    assert member.status == MovesMember.Status.CURRENT, member.last_error
    return member, walker


def signed_in(member: MovesMember) -> Client:
    client = Client()
    client.force_login(member.member.user)
    return client


def test_an_old_day_is_read_from_the_file_on_open_humans_by_byte_range(backfilled, monkeypatch):
    member, walker = backfilled
    recent = set(RecentDay.objects.filter(moves_member=member).values_list("date", flat=True))
    first = min(
        fact.day
        for year in calendar(member).values()
        for fact in year
        if fact.state == HAS_DATA and fact.day not in recent
    )
    [expected] = testing.storyline_days(walker, first, first)
    ranges = []
    real_range = OpenHumansClient.download_range

    def watched(self, url, start, end):
        # Seen at the client, to prove a range (not the whole file) was asked for.
        ranges.append((start, end))
        return real_range(self, url, start, end)

    monkeypatch.setattr(OpenHumansClient, "download_range", watched)

    response = signed_in(member).get(f"/dashboard/day/{first.isoformat()}.json")

    assert response.status_code == 200
    data = response.json()
    shown = day_map(expected)
    assert (data["date"], data["steps"]) == (first.isoformat(), shown["steps"])
    assert [place["name"] for place in data["places"]] == [place["name"] for place in shown["places"]]
    assert len(data["tracks"]) == len(shown["tracks"])
    assert '<ol class="timeline">' in data["summary_html"]
    [(start, end)] = ranges
    assert 0 < end - start + 1 < member.file_size / 10


def test_a_recent_day_comes_from_the_database_without_any_upstream(make_member, settings):
    settings.OH_BASE_URL = "http://127.0.0.1:9"  # nothing listens: any request would fail the test
    member = make_member()
    row = recent_day(member, parse_day("20260301"), name="<b>Cafe</b>")

    response = signed_in(member).get("/dashboard/day/2026-03-01.json")

    assert response.status_code == 200
    data = response.json()
    assert data["steps"] == row.steps
    assert data["places"][0]["name"] == "<b>Cafe</b>"
    assert "&lt;b&gt;Cafe&lt;/b&gt;" in data["summary_html"]
    assert "<b>Cafe</b>" not in data["summary_html"]


def test_a_day_moves_recorded_nothing_for_says_no_data_as_the_calendar_does(make_member, settings):
    settings.OH_BASE_URL = "http://127.0.0.1:9"
    member = make_member()
    RecentDay.objects.create(moves_member=member, date=parse_day("20260302"), **day_map({"date": "20260302"}))

    data = signed_in(member).get("/dashboard/day/2026-03-02.json").json()

    assert data["recorded"] is False
    assert "Moves recorded no data on this day" in data["summary_html"]
    assert "0 steps" not in data["summary_html"]


def test_a_day_with_data_but_no_steps_still_shows_its_figures(make_member, settings):
    settings.OH_BASE_URL = "http://127.0.0.1:9"
    member = make_member()
    recent_day(member, parse_day("20260303"), steps=0)

    data = signed_in(member).get("/dashboard/day/2026-03-03.json").json()

    assert data["recorded"] is True
    assert "0 steps</strong>" in data["summary_html"]


def test_a_day_not_held_is_a_404_in_words(make_member):
    member = make_member()

    response = signed_in(member).get("/dashboard/day/2019-01-01.json")

    assert (response.status_code, response.json()) == (404, {"error": "This day is not in your file (yet)."})


def test_a_day_that_is_not_a_date_is_a_400(make_member):
    response = signed_in(make_member()).get("/dashboard/day/2019-13-01.json")

    assert response.status_code == 400


def test_open_humans_failing_to_give_the_link_is_said_in_plain_words(backfilled):
    member, _ = backfilled
    testing.add_fault("oh.exchange_member", status=503, count=5)

    response = signed_in(member).get(f"/dashboard/day/{member.first_day_held.isoformat()}.json")

    assert response.status_code == 502
    assert response.json()["error"].startswith("Open Humans is not answering right now")


def test_the_day_view_needs_a_signed_in_member(client, db):
    response = client.get("/dashboard/day/2024-01-01.json")

    assert response.status_code == 302
