"""The pages carry what phones, keyboards and screen readers need."""

import pytest


@pytest.mark.parametrize("path", ["/", "/dashboard/", "/remove_moves/"])
def test_pages_have_viewport_skip_link_and_one_heading(signed_in, moves_member, path):
    client = signed_in
    if path == "/":
        client.logout()

    html = client.get(path).content.decode()

    assert '<html lang="en">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<a class="skip-link" href="#content">Skip to content</a>' in html
    assert '<main id="content"' in html
    assert html.count("<h1>") == 1
    assert "/static/main/site.css" in html


def test_dashboard_controls_have_labels(signed_in, moves_member):
    from main.models import RecentDay

    RecentDay.objects.create(moves_member=moves_member, date="2024-05-01", steps=10)

    html = signed_in.get("/dashboard/").content.decode()

    assert '<label for="day">Day</label>' in html
    assert '<select id="day" name="day">' in html
    assert 'role="region" aria-label="Map of places and trips on 1 May 2024"' in html
