"""Times as the participant reads them: in their own time zone, and how long until.

The server knows no one's time zone, so every time goes out as a
``<time datetime="...">`` in UTC, which ``main/static/main/times.js``
rewrites in the browser's own zone; UTC is what a page without scripts shows.
"""

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

register = template.Library()


def clock_words(moment: datetime, now: datetime | None = None) -> str:
    """``05:47 UTC`` today, else ``Wed 26 Nov, 05:47 UTC`` (the no-script fallback)."""
    moment = moment.astimezone(UTC)
    today = (now or timezone.now()).astimezone(UTC).date()
    if moment.date() == today:
        return f"{moment:%H:%M} UTC"
    if moment.year == today.year:
        return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M} UTC"
    return f"{moment.day} {moment:%b %Y}, {moment:%H:%M} UTC"


def until_words(moment: datetime, now: datetime | None = None) -> str:
    """How long until ``moment``: "less than a minute" rather than "0 minutes"."""
    now = now or timezone.now()
    if moment - now < timedelta(minutes=1):
        return "less than a minute"
    return timeuntil(moment, now, depth=1).replace("\xa0", " ")


def ago_words(moment: datetime, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if now - moment < timedelta(minutes=1):
        return "less than a minute"
    return timesince(moment, now, depth=1).replace("\xa0", " ")


@register.simple_tag
def moment(value: datetime | None) -> SafeString | str:
    """A point in time the browser shows in its own zone."""
    if value is None:
        return ""
    return format_html(
        '<time datetime="{}" data-clock>{}</time>', value.isoformat(timespec="seconds"), clock_words(value)
    )


@register.simple_tag
def until(value: datetime | None) -> SafeString | str:
    """``in 3 minutes``, kept current by the page's script."""
    if value is None:
        return ""
    return format_html(
        '<span data-until="{}">in {}</span>', value.isoformat(timespec="seconds"), until_words(value)
    )


@register.simple_tag
def ago(value: datetime | None) -> SafeString | str:
    """``5 minutes ago``, kept current by the page's script."""
    if value is None:
        return ""
    return format_html(
        '<span data-ago="{}">{} ago</span>', value.isoformat(timespec="seconds"), ago_words(value)
    )
