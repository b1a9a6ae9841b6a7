"""The whole history: a calendar of five years, and a day two years back on the map, read from Open Humans."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core.calendar import member_today
from core.days import HAS_DATA, calendar
from core.models import RecentDay
from tests.e2e.conftest import keep_for_readme

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIVE_YEARS = 5 * 365 + 2


def test_five_years_in_the_calendar_and_a_day_two_years_back_on_the_map(backfilled, browse):
    person = backfilled(days=FIVE_YEARS)
    member = person.fresh()
    today = member_today(member.time_zone)
    facts = {fact.day: fact for year in calendar(member).values() for fact in year}
    # The day two years back nearest to it that has data; far older than the recent days kept.
    day = today - timedelta(days=730)
    while facts[day].state != HAS_DATA:
        day -= timedelta(days=1)
    assert not RecentDay.objects.filter(moves_member=member, date=day).exists()

    desk = browse()
    desk.sign_in(member)
    page = desk.open("/dashboard/")
    page.evaluate("window.notReloaded = true")

    years = page.locator("#history table.year")
    expect(years).to_have_count(today.year - member.first_date.year + 1)
    expect(page.locator("#history table.year a")).to_have_count(member.days_held)
    expect(page.locator("#history")).to_contain_text(f"{member.days_held} days held")
    keep_for_readme(page.locator("#history"), "calendar.png")

    link = page.locator(f'#history a[href="?day={day.isoformat()}#day"]')
    expect(link).to_have_attribute(
        "aria-label", f"{day:%a} {day.day} {day:%b %Y}: {facts[day].steps:,} steps"
    )
    link.click()

    title = f"{day:%A} {day.day} {day:%B %Y}"
    expect(page.locator("#day-title")).to_have_text(title)
    expect(page.locator("#day-summary")).to_contain_text(f"{facts[day].steps:,} steps")
    expect(page.locator("#day-summary .timeline li").first).to_be_visible()
    expect(page.locator("#day-map .leaflet-overlay-pane path").first).to_be_attached()
    expect(page.locator("#day-map .map-tooltip").first).to_be_visible()
    expect(page.locator("#day-map .leaflet-control-scale-line")).to_be_visible()
    expect(page.locator("#map-note")).to_be_visible()
    expect(page.locator("#day-map")).to_be_in_viewport()
    expect(link).to_have_attribute("aria-current", "date")
    assert page.url.endswith(f"?day={day.isoformat()}#day")
    assert page.evaluate("window.notReloaded === true"), "choosing a day reloaded the page"
    assert desk.problems == []
