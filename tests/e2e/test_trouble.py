"""Trouble shows at once, times read in the participant's own zone, and *Update now* is never wasted."""

import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.models import MovesMember
from sandbox import testing
from tests.e2e.conftest import keep_for_readme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stays_on_the_page(page) -> None:
    """Mark the page; ``expect_same_page`` fails if it was reloaded since."""
    page.evaluate("window.notReloaded = true")


def expect_same_page(page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page reloaded"


def test_a_failed_run_names_the_service_and_the_next_try_at_once(connect, worker, browse):
    testing.add_fault("moves.profile", status=500, count=1000)
    person = connect(days=30)
    desk = browse()
    desk.sign_in(person.member)
    page = desk.open("/dashboard/")
    stays_on_the_page(page)

    now = page.locator("#now")
    expect(now.get_by_role("heading")).to_have_text("A problem with Moves; trying again soon", timeout=15_000)
    expect(now).to_contain_text("Moves is not answering right now.")
    expect(now).to_contain_text("Nothing has reached Open Humans yet.")
    expect(now).to_contain_text(
        re.compile(r"Next try: (.+) \(in (less than a minute|\d+ seconds?)\)|any moment now")
    )
    expect(page.locator("#file")).to_contain_text("No file yet")
    expect(page.get_by_role("button", name="Try again now")).to_be_visible()
    expect_same_page(page)
    assert person.fresh().failures >= 1
    assert desk.problems == []


def test_the_next_try_is_shown_in_the_browsers_own_time_zone(make_member, browse):
    next_try = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    member = make_member(
        status=MovesMember.Status.RETRYING,
        error_service="Open Humans",
        last_error="Open Humans is not answering right now.",
        failures=2,
        not_before=next_try,
        sync_wanted_since=timezone.now(),
    )
    tokyo = browse(timezone_id="Asia/Tokyo")
    tokyo.sign_in(member)
    page = tokyo.open("/dashboard/")

    local = next_try.astimezone(ZoneInfo("Asia/Tokyo"))
    when = page.locator("#next-time")
    expect(page.locator("#now-heading")).to_have_text("A problem with Open Humans; trying again soon")
    expect(when).to_contain_text(f"{local:%H:%M}")
    expect(when).to_contain_text("GMT+9")
    expect(when).not_to_contain_text("UTC")
    expect(when).to_contain_text(re.compile(r"in (2|3) hours"))
    # Without scripts the same moment reads in UTC.
    assert page.locator("#next-time time").get_attribute("datetime") == next_try.isoformat()


def test_update_now_during_a_run_is_disabled_and_spends_nothing(connect, worker, browse, settings):
    # Ten requests a (2 s) minute: the 74 of this backfill take about 15 s,
    # long enough for the page to show the run whatever the machine's speed.
    settings.MOVES_REQUESTS_PER_MINUTE = 11
    person = connect(days=500)
    desk = browse()
    desk.sign_in(person.member)
    page = desk.open("/dashboard/")

    expect(page.locator("#now-heading")).to_have_text("Fetching your history", timeout=15_000)
    button = page.locator("#update-button")
    expect(button).to_be_disabled()
    expect(page.locator("#update-reason")).to_contain_text("Already updating")
    expect(page.locator("#backfill-progress")).to_be_visible()
    keep_for_readme(page, "dashboard-backfill.png", clip={"x": 0, "y": 0, "width": 1280, "height": 900})

    # A press that reaches the server anyway (a second tab, an old page) asks for nothing.
    # The page reloads itself once when the first days arrive: press after that.
    expect(page.locator("#day")).to_be_attached(timeout=30_000)
    page.wait_for_load_state()
    expect(button).to_be_disabled()
    page.evaluate("document.getElementById('update-button').disabled = false")
    page.locator("#update-button").click()
    expect(page.get_by_role("status")).to_contain_text("Already updating: nothing more was asked for")
    assert person.fresh().last_submitted is None

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and person.fresh().status != MovesMember.Status.CURRENT:
        time.sleep(0.5)
    assert person.member.status == MovesMember.Status.CURRENT, person.member.last_error
    expect(page.locator("#now-heading")).to_have_text(re.compile("Up to date|Updating"), timeout=15_000)
    expect(page.locator("#update-button")).to_be_enabled(timeout=15_000)
    assert desk.problems == []
