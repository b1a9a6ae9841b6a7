import os
import subprocess
import sys
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from sandbox.models import MovesToken, SandboxMovesUser

BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.mark.django_db
def test_sandbox_moves_user_command_creates_user_and_tokens():
    out = StringIO()
    call_command(
        "sandbox_moves_user",
        "cli",
        "--first-date",
        "2016-06-16",
        "--days",
        "1826",
        "--city",
        "frankfurt",
        "--time-zone",
        "America/Los_Angeles",
        "--tokens",
        stdout=out,
    )
    user = SandboxMovesUser.objects.get(name="cli")
    assert (user.first_date, user.last_date) == (date(2016, 6, 16), date(2021, 6, 15))
    assert (user.city, user.time_zone) == ("frankfurt", "America/Los_Angeles")
    access = MovesToken.objects.get(user=user).access_token
    assert out.getvalue().splitlines() == [
        f"user_id={user.moves_id} first_date=2016-06-16 last_date=2021-06-15 city=frankfurt "
        "time_zone=America/Los_Angeles",
        f"access_token={access}",
        f"refresh_token={MovesToken.objects.get(user=user).refresh_token}",
    ]


@pytest.mark.django_db
def test_sandbox_moves_user_command_refuses_a_taken_name():
    call_command("sandbox_moves_user", "cli", stdout=StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("sandbox_moves_user", "cli", stdout=StringIO())
    assert SandboxMovesUser.objects.count() == 1


@pytest.mark.django_db
def test_sandbox_moves_user_command_refuses_an_unknown_zone():
    with pytest.raises(CommandError, match="not a time zone name"):
        call_command("sandbox_moves_user", "cli", "--time-zone", "Mars/Olympus", stdout=StringIO())


def test_run_sandbox_serves_both_stand_ins_at_the_root_in_its_own_process(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "SANDBOX_STORAGE_DIR": str(tmp_path / "files"),
        "DEBUG": "true",
        "SECRET_KEY": "run-sandbox-test",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*manage, "run_sandbox", "--port", "0", "--no-sender"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = server.stdout.readline()
        base = banner.split("Sandbox at ", 1)[1].split("/:", 1)[0]
        control = requests.get(base + "/", timeout=10)
        moves = requests.get(base + "/api/1.1/user/profile", timeout=10)
        open_humans = requests.get(base + "/api/direct-sharing/project/exchange-member/", timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert base.startswith("http://127.0.0.1:")
    assert (control.status_code, "Sandbox control" in control.text) == (200, True)
    assert (moves.status_code, moves.json()) == (401, {"error": "invalid_token"})
    assert (open_humans.status_code, open_humans.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
