"""Tokens are stored encrypted: the raw column never holds the plaintext."""

from django.db import connection

from main.models import MovesMember
from open_humans.models import OpenHumansMember


def raw_column(model, column: str, pk: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_tokens_are_encrypted_in_the_database(make_member):
    moves = make_member(oh_id="23456789")

    stored = {
        raw_column(OpenHumansMember, "access_token", moves.member.pk),
        raw_column(OpenHumansMember, "refresh_token", moves.member.pk),
        raw_column(MovesMember, "access_token", moves.pk),
        raw_column(MovesMember, "refresh_token", moves.pk),
    }

    assert len(stored) == 4
    for value in stored:
        assert "23456789" not in value
        assert value.startswith("gAAAAA")  # a Fernet token
    assert MovesMember.objects.get().access_token == "moves-access-23456789"
