"""main.templatetags.moments: times in words, and in <time> elements the browser rewrites in its zone."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from main.templatetags.moments import ago_words, clock_words, until_words

NOW = datetime(2026, 11, 26, 5, 47, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (-30, "less than a minute"),
        (0, "less than a minute"),
        (59, "less than a minute"),
        (60, "1 minute"),
        (185, "3 minutes"),
        (6 * 3600, "6 hours"),
        (6 * 3600 + 59 * 60, "6 hours"),
        (3 * 86400, "3 days"),
    ],
)
def test_until_words_never_says_zero_minutes(seconds, words):
    assert until_words(NOW + timedelta(seconds=seconds), NOW) == words


def test_ago_words_counts_back():
    assert ago_words(NOW - timedelta(seconds=20), NOW) == "less than a minute"
    assert ago_words(NOW - timedelta(hours=2, minutes=5), NOW) == "2 hours"


def test_clock_words_give_the_date_only_when_it_is_not_today():
    assert clock_words(NOW + timedelta(minutes=3), NOW) == "05:50 UTC"
    assert clock_words(NOW + timedelta(days=1), NOW) == "Fri 27 Nov, 05:47 UTC"
    assert clock_words(NOW - timedelta(days=400), NOW) == "22 Oct 2025, 05:47 UTC"


def test_moment_tag_writes_a_machine_readable_time_with_a_utc_fallback():
    moment = datetime(2026, 11, 26, 5, 47, tzinfo=UTC)

    html = Template("{% load moments %}{% moment when %} {% until when %}").render(Context({"when": moment}))

    assert html.startswith('<time datetime="2026-11-26T05:47:00+00:00" data-clock>')
    assert '<span data-until="2026-11-26T05:47:00+00:00">in ' in html


def test_moment_tag_of_nothing_writes_nothing():
    assert (
        Template("{% load moments %}{% moment when %}{% until when %}").render(Context({"when": None})) == ""
    )
