"""Rotating TOKEN_ENCRYPTION_KEYS: tokens stay readable through every step, and old keys can go."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from core.models import MovesMember
from open_humans.fields import TokenDecryptionError
from open_humans.models import OpenHumansMember

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_refresh_token(model, pk: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT refresh_token FROM {quote(model._meta.db_table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_rotation_keeps_tokens_readable_and_retires_the_old_key(make_member, settings, capsys):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    moves = make_member(oh_id="23456789")
    before = raw_refresh_token(MovesMember, moves.pk)

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert MovesMember.objects.get().refresh_token == "moves-refresh-23456789"

    call_command("rotate_token_keys")
    assert capsys.readouterr().out == (
        "Checked 4 tokens: re-encrypted 4, 0 already on the newest key, 0 unreadable.\n"
    )
    assert raw_refresh_token(MovesMember, moves.pk) != before

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    assert MovesMember.objects.get().refresh_token == "moves-refresh-23456789"
    assert OpenHumansMember.objects.get().access_token == "oh-access-23456789"


def test_rotation_dry_run_changes_nothing(make_member, settings, capsys):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    moves = make_member(oh_id="23456789")
    before = raw_refresh_token(OpenHumansMember, moves.member.pk)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("rotate_token_keys", "--dry-run")

    assert "would re-encrypt 4" in capsys.readouterr().out
    assert raw_refresh_token(OpenHumansMember, moves.member.pk) == before


def test_rotation_twice_finds_nothing_left(make_member, capsys):
    make_member(oh_id="23456789")

    call_command("rotate_token_keys")

    assert "re-encrypted 0, 4 already on the newest key" in capsys.readouterr().out


def test_a_token_no_key_can_read_raises_and_is_named(make_member, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    moves = make_member(oh_id="23456789")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(TokenDecryptionError, match=r"MovesMember\.access_token cannot be decrypted"):
        MovesMember.objects.get()
    with pytest.raises(CommandError) as refused:
        call_command("rotate_token_keys")

    assert str(refused.value) == (
        f"No configured key decrypts: open_humans.OpenHumansMember.access_token pk={moves.member.pk}, "
        f"open_humans.OpenHumansMember.refresh_token pk={moves.member.pk}, "
        f"core.MovesMember.access_token pk={moves.pk}, core.MovesMember.refresh_token pk={moves.pk}"
    )
