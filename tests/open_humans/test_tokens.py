"""OAuth tokens at rest and their refresh, against the stand-ins' token endpoints."""

import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from apiclients.errors import InvalidGrant, TemporaryUpstreamError
from core.models import MovesMember
from open_humans.models import OpenHumansMember
from sandbox import testing
from tests.connected import refusing_requests, unreachable_url

COUNTS = "test-token-counts"


def token_calls(kind: str) -> int:
    raw = redis.Redis.from_url(django_settings.REDIS_URL).hget(COUNTS, kind)
    return int(raw or 0)


def oh_token_calls() -> int:
    return token_calls("oh_calls:token")


@pytest.fixture
def counted(sandboxed, settings):
    settings.SANDBOX_REQUEST_COUNTS_KEY = COUNTS
    return sandboxed


@pytest.fixture
def expiring(counted, make_member):
    """Our member whose Open Humans access token expires in 30 s, with a live pair at the stand-in."""
    oh = testing.create_oh_member("alice")
    access, refresh = testing.issue_oh_tokens(oh)
    moves = make_member(oh.project_member_id)
    OpenHumansMember.objects.filter(pk=moves.member_id).update(
        access_token=access, refresh_token=refresh, token_expires=timezone.now() + timedelta(seconds=30)
    )
    member = OpenHumansMember.objects.get(pk=moves.member_id)
    member.stand_in = oh
    return member


def test_a_fresh_token_is_used_as_it_is(make_member):
    member = make_member("23456789").member

    with refusing_requests() as tried:
        token = member.usable_access_token()

    assert (token, tried) == ("oh-access-23456789", [])


def test_a_token_about_to_expire_is_refreshed_and_stored(expiring):
    old_refresh = expiring.refresh_token

    token = expiring.usable_access_token()

    stored = OpenHumansMember.objects.get(pk=expiring.pk)
    assert (token, stored.access_token, expiring.access_token) == (stored.access_token,) * 3
    assert stored.refresh_token not in ("", old_refresh)
    assert stored.token_expires > timezone.now() + timedelta(hours=9)
    assert oh_token_calls() == 1
    # The refresh token was spent: the stand-in refuses it now.
    with pytest.raises(InvalidGrant):
        OpenHumansMember(refresh_token=old_refresh).token_client().refresh(old_refresh)


def test_a_moves_token_is_refreshed_by_moves(counted, make_member):
    user = testing.create_moves_user("bob", days=3)
    access, refresh = testing.issue_moves_tokens(user, expires_in=-1)
    moves = make_member(access_token=access, refresh_token=refresh, token_expires=timezone.now())

    token = moves.usable_access_token()

    stored = MovesMember.objects.get(pk=moves.pk)
    assert (token, stored.access_token) == (stored.access_token, token)
    assert (stored.refresh_token != refresh, stored.token_expires > timezone.now() + timedelta(days=179)) == (
        True,
        True,
    )


def test_a_refused_refresh_flags_the_open_humans_member(expiring):
    testing.member_leaves(expiring.stand_in)
    before = OpenHumansMember.objects.filter(pk=expiring.pk).values("access_token", "refresh_token").get()

    with pytest.raises(InvalidGrant):
        expiring.usable_access_token()

    stored = OpenHumansMember.objects.get(pk=expiring.pk)
    assert (stored.needs_reconnect, expiring.needs_reconnect) == (True, True)
    assert {"access_token": stored.access_token, "refresh_token": stored.refresh_token} == before
    assert list(MovesMember.objects.syncable()) == []


def test_a_refused_moves_refresh_leaves_the_open_humans_member_alone(counted, make_member):
    user = testing.create_moves_user("bob", days=3)
    _, refresh = testing.issue_moves_tokens(user)
    testing.revoke_moves_tokens(user)
    moves = make_member(refresh_token=refresh, token_expires=None)

    with pytest.raises(InvalidGrant):
        moves.usable_access_token()

    assert OpenHumansMember.objects.get(pk=moves.member_id).needs_reconnect is False


def test_no_refresh_token_stored_is_refused_without_asking(make_member):
    member = make_member("23456789").member
    OpenHumansMember.objects.filter(pk=member.pk).update(refresh_token="", token_expires=None)
    member.refresh_from_db()

    with refusing_requests() as tried, pytest.raises(InvalidGrant):
        member.usable_access_token()

    assert (tried, OpenHumansMember.objects.get(pk=member.pk).needs_reconnect) == ([], True)


def test_open_humans_down_is_not_a_refusal(make_member, settings):
    settings.OH_BASE_URL = unreachable_url()
    member = make_member("23456789").member
    OpenHumansMember.objects.filter(pk=member.pk).update(token_expires=None)
    member.refresh_from_db()

    with pytest.raises(TemporaryUpstreamError):
        member.usable_access_token()

    stored = OpenHumansMember.objects.get(pk=member.pk)
    assert (stored.needs_reconnect, stored.refresh_token) == (False, "oh-refresh-23456789")


def test_a_copy_loaded_before_another_refreshed_takes_its_tokens(expiring):
    # Two runs loaded the member before either refreshed; the first refreshes.
    late = OpenHumansMember.objects.get(pk=expiring.pk)
    first = expiring.usable_access_token()

    second = late.usable_access_token()

    assert (second, late.refresh_token) == (first, OpenHumansMember.objects.get(pk=expiring.pk).refresh_token)
    assert oh_token_calls() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs row locks and a connection per thread: PostgreSQL (the SQLite test database has neither)",
)
def test_a_concurrent_refresh_spends_the_refresh_token_once(expiring):
    # The stand-in answers the token request slowly, so both threads are inside at once.
    testing.add_fault("oh.token", delay=0.5)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            tokens.append(OpenHumansMember.objects.get(pk=expiring.pk).usable_access_token())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert (len(tokens), len(set(tokens)), oh_token_calls()) == (2, 1, 1)
    assert tokens[0] == OpenHumansMember.objects.get(pk=expiring.pk).access_token
