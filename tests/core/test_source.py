"""Which files on Open Humans are ours: the project's own source label, asked once and kept."""

from django.core.cache import cache

from core.source import CACHE_KEY, own_source
from sandbox import testing
from sandbox.accounts import SOURCE
from tests.connected import refusing_requests


def test_own_source_from_the_setting_asks_nobody(settings, no_upstream, db):
    settings.OH_SOURCE_LABEL = "direct-sharing-999"

    assert own_source("any-token") == "direct-sharing-999"

    assert no_upstream == []


def test_own_source_is_asked_of_open_humans_once_and_kept(sandboxed):
    access, _ = testing.issue_oh_tokens(testing.create_oh_member("alice"))

    first = own_source(access)
    with refusing_requests() as tried:
        again = own_source(access)

    assert (first, again, tried) == (SOURCE, SOURCE, [])
    assert cache.get(CACHE_KEY) == SOURCE
