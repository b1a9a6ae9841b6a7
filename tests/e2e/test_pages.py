"""Every page passes an accessibility check, and the small things work as a participant meets them."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from core.models import MovesMember
from tests.e2e.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_every_page_has_no_serious_accessibility_problem(backfilled, browse):
    person = backfilled(days=40)
    visitor = browse()
    for path in ("/", "/dashboard/", "/logged-out/"):
        visitor.open(path)
        assert axe_violations(visitor.page) == [], path
    expect(visitor.page.get_by_role("status")).to_be_hidden()

    participant = browse()
    participant.sign_in(person.member)
    page = participant.open("/dashboard/")
    expect(page.locator("#day-summary .day-facts")).to_be_visible()
    assert axe_violations(page) == [], "dashboard"
    page.locator("#history table.year a").first.click()
    expect(page.locator("#day-summary .day-facts")).to_be_visible()
    assert axe_violations(page) == [], "dashboard, an old day chosen"
    participant.open("/remove_moves/")
    assert axe_violations(participant.page) == [], "disconnect confirmation"

    MovesMember.objects.filter(pk=person.member.pk).update(
        status=MovesMember.Status.FAILING,
        error_service="Moves",
        last_error="Moves refused a request (HTTP 403).",
        failures=5,
        not_before=timezone.now() + timedelta(hours=6),
    )
    page = participant.open("/dashboard/")
    expect(page.locator("#now-heading")).to_have_text("A problem with Moves; updates are failing")
    assert axe_violations(page) == [], "dashboard, failing"
    assert visitor.problems == participant.problems == []


def test_download_log_out_and_disconnect_as_a_participant_meets_them(backfilled, browse, settings):
    person = backfilled(days=20)
    desk = browse()
    desk.sign_in(person.member)
    page = desk.open("/dashboard/")

    # The link ends, after Open Humans' redirects, at an address whose last
    # part is the file's real name: what a browser saves it as.
    link = page.get_by_role("link", name=f"Download {settings.MOVES_FILE_NAME}")
    answer = page.request.get(desk.site.url + link.get_attribute("href"))
    assert answer.ok
    assert answer.url.split("?")[0].endswith("/" + settings.MOVES_FILE_NAME)
    assert answer.json()[0]["date"]

    icon = page.request.get(desk.site.url + "/favicon.ico")
    assert (icon.status, icon.headers["content-type"]) == (200, "image/svg+xml")
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/static/main/favicon.svg"

    page.get_by_role("link", name="Disconnect Moves…").click()
    expect(page.get_by_role("heading", name="Download your file first")).to_be_visible()
    page.get_by_role("button", name="Yes, disconnect and delete the file").click()
    expect(page.locator("#moves-connection")).to_have_text("Disconnected")
    expect(page.locator("#now-heading")).to_have_text("Moves is disconnected")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are logged out")
    page.goto(desk.site.url + "/dashboard/")
    expect(page.get_by_role("status")).to_contain_text(
        "Please sign in with Open Humans to see your dashboard."
    )
    assert desk.problems == []


def test_the_admin_names_members_plainly_and_its_list_fits_1280_pixels(make_member, browse):
    for number in range(3):
        make_member(
            status=MovesMember.Status.FAILING,
            error_service="Open Humans",
            last_error="Open Humans refused a request (HTTP 403): the member left the project. " * 2,
            not_before=timezone.now() + timedelta(hours=number),
            weeks_done=120,
            weeks_total=262,
            file_size=37_700_000,
        )
    operator = get_user_model().objects.create_superuser("operator", "operator@example.org", "not-used")
    admin = browse()
    admin.sign_in_user(operator)
    page = admin.open("/admin/core/movesmember/")

    crumbs = re.compile("Home\\s*\u203a\\s*Members\\s*\u203a\\s*Moves members")
    expect(page.locator(".breadcrumbs")).to_have_text(crumbs)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    right = page.evaluate("document.querySelector('#result_list').getBoundingClientRect().right")
    assert right <= 1280
    assert admin.problems == []
