"""Production settings, checked in a fresh process with only the production environment."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A clean environment: nothing from the test settings (which relax HTTPS) may leak in.
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "demotemplate.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "moves.example.org",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
    }


def test_production_settings_pass_the_deploy_check():
    result = run_manage(production_env(), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = production_env()
    del env["SECRET_KEY"]

    result = run_manage(env, "check")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_settings_refuse_to_start_without_token_keys():
    env = production_env()
    del env["TOKEN_ENCRYPTION_KEYS"]

    result = run_manage(env, "check")

    assert result.returncode != 0
    assert "TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr
