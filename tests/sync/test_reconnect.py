"""Refused tokens: the member is marked to reconnect, retries stop, and they are told once by message."""

import logging

import pytest
from django.conf import settings
from django.utils import timezone

from apiclients.oauth import TokenGrant
from datauploader.tasks import process_moves
from main.dashboard import store_moves_connection
from main.models import MovesMember
from sandbox import testing
from tests.sync.conftest import TODAY, Accounts

pytestmark = pytest.mark.django_db(transaction=True)


def run(accounts: Accounts) -> MovesMember:
    process_moves.apply(args=[accounts.oh_id]).get()
    return MovesMember.objects.get(pk=accounts.member.pk)


def expire_moves_access_token(accounts: Accounts) -> None:
    # Our copy of the access token is stale, so the run must refresh first.
    MovesMember.objects.filter(pk=accounts.member.pk).update(token_expires=None)


def test_a_revoked_moves_refresh_token_asks_the_member_once_to_reconnect(sandbox_accounts, caplog):
    accounts = sandbox_accounts("revoked-refresh", TODAY, 1)
    testing.revoke_moves_tokens(accounts.moves_user)
    expire_moves_access_token(accounts)

    with caplog.at_level(logging.WARNING):
        member = run(accounts)

    assert member.status == MovesMember.Status.NEEDS_RECONNECT
    assert "reconnect" in member.last_error.lower()
    assert member.reconnect_notified
    [message] = testing.messages_for(accounts.oh_member)
    assert message.subject == "Please reconnect Moves"
    assert f"{settings.APP_BASE_URL}/dashboard/" in message.message
    assert [r.getMessage() for r in caplog.records if accounts.oh_id in r.getMessage()] == [
        f"process_moves {accounts.oh_id}: Moves refused the refresh token"
    ]

    # Retries stop: later runs (scheduler, button) change nothing and send nothing.
    run(accounts)
    assert len(testing.messages_for(accounts.oh_member)) == 1


def test_an_access_token_refused_mid_run_keeps_the_data_and_asks_to_reconnect(sandbox_accounts):
    accounts = sandbox_accounts("revoked-access", TODAY, 1)
    testing.revoke_moves_tokens(accounts.moves_user)

    member = run(accounts)

    assert member.status == MovesMember.Status.NEEDS_RECONNECT
    assert len(testing.messages_for(accounts.oh_member)) == 1
    assert testing.stored_files(accounts.oh_member) == []


def test_a_member_who_refuses_messages_is_not_messaged(sandbox_accounts):
    accounts = sandbox_accounts("no-messages", TODAY, 1)
    accounts.oh_member.message_permission = False
    accounts.oh_member.save()
    testing.revoke_moves_tokens(accounts.moves_user)
    expire_moves_access_token(accounts)

    member = run(accounts)

    assert member.status == MovesMember.Status.NEEDS_RECONNECT
    assert not member.reconnect_notified
    assert testing.messages_for(accounts.oh_member) == []


def test_a_revoked_open_humans_token_marks_the_member_without_crashing(sandbox_accounts):
    accounts = sandbox_accounts("left-open-humans", TODAY, 1)
    testing.member_leaves(accounts.oh_member)
    # Our copy of the access token is stale, so the run must refresh first.
    accounts.member.member.token_expires = timezone.now()
    accounts.member.member.save()

    member = run(accounts)

    member.member.refresh_from_db()
    assert member.member.needs_reconnect
    assert "Open Humans" in member.last_error
    assert testing.messages_for(accounts.oh_member) == []
    # The Moves connection itself is fine: it stays, and waits for the sign-in.
    assert member.refresh_token
    assert member.status == MovesMember.Status.FAILING


def test_reconnecting_clears_the_notice_so_a_later_revocation_is_told_again(sandbox_accounts):
    accounts = sandbox_accounts("told-twice", TODAY, 1)
    testing.revoke_moves_tokens(accounts.moves_user)
    expire_moves_access_token(accounts)
    run(accounts)

    # The member connects Moves again (what the Moves callback stores).
    access, refresh = testing.issue_moves_tokens(accounts.moves_user)
    grant = TokenGrant(access, refresh, 3600, accounts.moves_user.moves_id)
    store_moves_connection(accounts.member.member, grant)
    assert run(accounts).status == MovesMember.Status.CURRENT

    testing.revoke_moves_tokens(accounts.moves_user)
    expire_moves_access_token(accounts)
    assert run(accounts).status == MovesMember.Status.NEEDS_RECONNECT
    assert len(testing.messages_for(accounts.oh_member)) == 2
