from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sandbox.models import MovesToken, SandboxMovesUser


@pytest.mark.django_db
def test_sandbox_moves_user_command_creates_user_and_tokens():
    out = StringIO()
    call_command(
        "sandbox_moves_user", "cli", "--first-date", "2016-06-16", "--days", "1826", "--tokens", stdout=out
    )
    user = SandboxMovesUser.objects.get(name="cli")
    assert (user.first_date, user.last_date) == (date(2016, 6, 16), date(2021, 6, 15))
    access = MovesToken.objects.get(user=user).access_token
    assert f"user_id={user.moves_id}" in out.getvalue()
    assert f"access_token={access}" in out.getvalue()


@pytest.mark.django_db
def test_sandbox_moves_user_command_refuses_a_taken_name():
    call_command("sandbox_moves_user", "cli", stdout=StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("sandbox_moves_user", "cli", stdout=StringIO())
    assert SandboxMovesUser.objects.count() == 1
