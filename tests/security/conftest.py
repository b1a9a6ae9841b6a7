"""Fixtures of the security tests: a signed-in member of ours, and another one beside them."""

import pytest
from django.test import Client

from core.models import MovesMember


@pytest.fixture
def moves_member(make_member) -> MovesMember:
    return make_member(oh_id="23456789")


@pytest.fixture
def signed_in(client: Client, moves_member: MovesMember) -> Client:
    client.force_login(moves_member.member.user)
    return client
