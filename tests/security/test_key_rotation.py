"""Rotating TOKEN_ENCRYPTION_KEYS: tokens stay readable through every step, and old keys can go."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from main.models import MovesMember
from open_humans.fields import TokenDecryptionError
from open_humans.models import OpenHumansMember

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_refresh_token(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM main_movesmember WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_keeps_tokens_readable_and_retires_the_old_key(make_member, settings, capsys):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    moves = make_member(oh_id="23456789")
    before = raw_refresh_token(moves.pk)

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert MovesMember.objects.get().refresh_token == "moves-refresh-23456789"

    call_command("rotate_token_keys")
    assert "re-encrypted 4, 0 already on the newest key, 0 unreadable" in capsys.readouterr().out
    assert raw_refresh_token(moves.pk) != before

    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]
    assert MovesMember.objects.get().refresh_token == "moves-refresh-23456789"
    assert OpenHumansMember.objects.get().access_token == "oh-access-23456789"


def test_rotation_dry_run_changes_nothing(make_member, settings, capsys):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    moves = make_member(oh_id="23456789")
    before = raw_refresh_token(moves.pk)
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("rotate_token_keys", "--dry-run")

    assert "would re-encrypt 4" in capsys.readouterr().out
    assert raw_refresh_token(moves.pk) == before


def test_rotation_twice_finds_nothing_left(make_member, settings, capsys):
    make_member(oh_id="23456789")
    call_command("rotate_token_keys")

    assert "re-encrypted 0, 4 already on the newest key" in capsys.readouterr().out


def test_token_no_key_can_read_raises(make_member, settings):
    settings.TOKEN_ENCRYPTION_KEYS = [OLD_KEY]
    make_member(oh_id="23456789")
    settings.TOKEN_ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(TokenDecryptionError):
        MovesMember.objects.get()
    with pytest.raises(CommandError, match="No configured key decrypts"):
        call_command("rotate_token_keys")
