"""Tokens are stored encrypted: the raw columns never hold the plaintext."""

from django.db import connection

from core.models import MovesMember
from open_humans.models import OpenHumansMember


def raw_column(model, column: str, pk: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_tokens_are_encrypted_in_the_database(make_member):
    moves = make_member(oh_id="23456789")

    stored = [
        raw_column(OpenHumansMember, "access_token", moves.member.pk),
        raw_column(OpenHumansMember, "refresh_token", moves.member.pk),
        raw_column(MovesMember, "access_token", moves.pk),
        raw_column(MovesMember, "refresh_token", moves.pk),
    ]

    assert len(set(stored)) == 4
    assert [value for value in stored if "23456789" in value or not value.startswith("gAAAAA")] == []
    assert (MovesMember.objects.get().access_token, OpenHumansMember.objects.get().refresh_token) == (
        "moves-access-23456789",
        "oh-refresh-23456789",
    )


def test_an_empty_token_is_stored_empty(make_member):
    moves = make_member(oh_id="23456789", access_token="", refresh_token="")

    assert (
        raw_column(MovesMember, "access_token", moves.pk),
        raw_column(MovesMember, "refresh_token", moves.pk),
    ) == (
        "",
        "",
    )
