"""A participant's whole journey in a real browser, against the stand-in servers."""

import json
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from main.models import MovesMember
from sandbox import testing
from sandbox.models import SandboxMovesUser, SandboxOHMember

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HISTORY_DAYS = 21


def approve_open_humans(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name=re.compile("Join the project"))).to_be_visible()
    page.get_by_label("Sandbox Open Humans member").fill(username)
    page.get_by_role("button", name="Allow").click()


def approve_moves(page: Page, name: str, history_days: int) -> None:
    expect(page.get_by_role("heading", name=re.compile("Moves data"))).to_be_visible()
    page.get_by_label("Sandbox Moves user").fill(name)
    page.get_by_label("Days of history").fill(str(history_days))
    page.get_by_role("button", name="Allow").click()


def test_participant_flow_signs_in_connects_moves_and_gets_the_file(page: Page, sandbox_urls, settings):
    """Sign in, connect Moves, and see the uploaded file on the dashboard.

    Tests run Celery eagerly (CELERY_TASK_ALWAYS_EAGER in tests/settings.py),
    so process_moves runs inside the request that completes the Moves
    connection, and the dashboard it redirects to already shows the result.
    """
    page.goto(sandbox_urls.app + "/")
    page.get_by_role("link", name=re.compile("Sign in with Open Humans", re.I)).click()
    approve_open_humans(page, "ada")

    expect(page.get_by_role("link", name=re.compile("Connect Moves", re.I))).to_be_visible()
    page.get_by_role("link", name=re.compile("Connect Moves", re.I)).click()
    approve_moves(page, "ada-walks", HISTORY_DAYS)

    download = page.get_by_role("link", name=re.compile(re.escape(settings.MOVES_FILE_NAME)))
    expect(download).to_be_visible()

    member = MovesMember.objects.get()
    assert member.status == MovesMember.Status.CURRENT
    [stored] = testing.stored_files(SandboxOHMember.objects.get(username="ada"))
    assert stored.basename == settings.MOVES_FILE_NAME
    dates = [day["date"] for day in json.loads(testing.read_file_bytes(stored))]
    assert dates == sorted(set(dates)), "one object per day, in date order"
    walker = SandboxMovesUser.objects.get(name="ada-walks")
    history = {(walker.first_date + timedelta(days=n)).strftime("%Y%m%d") for n in range(HISTORY_DAYS)}
    assert history <= set(dates)
    assert member.days_held == len(dates)
    expect(page.get_by_text(re.compile(rf"holds {member.days_held} days of Moves data"))).to_be_visible()
