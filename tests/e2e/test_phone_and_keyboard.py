"""At home on a phone and with a keyboard alone."""

from datetime import date

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, keep_for_readme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_phone_reads_the_chart_keeps_log_out_whole_and_the_map_in_view(backfilled, browse):
    person = backfilled(days=75)
    phone = browse(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.sign_in(person.member)
    page = phone.open("/dashboard/")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    log_out = page.get_by_role("button", name="Log out")
    box = log_out.bounding_box()
    line = float(log_out.evaluate("element => parseFloat(getComputedStyle(element).lineHeight)"))
    assert box is not None and box["height"] < 2 * line + 24, "Log out wraps"
    for label in page.locator("#chart .chart-y span, #chart .chart-x span").all():
        assert float(label.evaluate("element => parseFloat(getComputedStyle(element).fontSize)")) >= 12

    # A day chosen far down the page is shown where the map is, without a reload.
    page.evaluate("window.notReloaded = true")
    days = page.locator("#history table.year a")
    chosen = days.nth(3)
    chosen.scroll_into_view_if_needed()
    day = date.fromisoformat(chosen.get_attribute("href").split("=")[1].split("#")[0])
    chosen.tap()
    expect(page.locator("#day-title")).to_have_text(f"{day:%A} {day.day} {day:%B %Y}")
    expect(page.locator("#day-map")).to_be_in_viewport()
    expect(page.locator("#day-summary .day-facts")).to_be_visible()
    assert page.evaluate("window.notReloaded === true")
    page.wait_for_timeout(700)  # the smooth scroll settles
    keep_for_readme(page, "day-map-phone.png")
    assert phone.problems == []


def test_the_dashboard_works_from_the_keyboard_alone(backfilled, browse):
    person = backfilled(days=40)
    desk = browse()
    desk.sign_in(person.member)
    page = desk.open("/dashboard/")

    # Every control that takes focus has a name, and the map's markers are not among them.
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const element = document.activeElement;
              const name = element.getAttribute('aria-label') || element.innerText || element.value || '';
              return {tag: element.tagName, id: element.id, name: name.trim(),
                      marker: !!element.closest('#day-map') && element.id !== 'day-map'
                        && !element.closest('.leaflet-control'),
                      inCalendar: !!element.closest('table.year')};
            }"""
        )
        assert focused["name"] or focused["id"] == "day-map" or focused["tag"] == "INPUT", focused
        assert not focused["marker"], "a map marker takes focus"
        names.append(focused)
        if focused["inCalendar"]:
            break
    labels = [stop["name"] for stop in names]
    assert "Update now" in labels
    assert "Show" in labels
    assert any(stop["inCalendar"] for stop in names), "the calendar cannot be reached by Tab"

    # In the calendar: one step left, then Enter shows that day.
    current = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("ArrowLeft")
    moved = page.evaluate("document.activeElement.getAttribute('href')")
    assert moved != current
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("Enter")
    day = moved.split("=")[1].split("#")[0]
    expect(page.locator("#day-input")).to_have_value(day)
    expect(page.locator("#day-summary .day-facts")).to_contain_text(label.split(": ")[1].split(" ")[0])
    assert page.evaluate("document.activeElement.getAttribute('href')") == moved

    # The date field and Show work from the keyboard too.
    page.locator("#day-input").focus()
    previous = page.locator("#day-previous").get_attribute("data-day")
    page.locator("#day-input").fill(previous)
    page.keyboard.press("Enter")
    expect(page.locator("#day-input")).to_have_value(previous)
    expect(page.locator(f'#history a[href="?day={previous}#day"]')).to_have_attribute("aria-current", "date")
    assert desk.problems == []
