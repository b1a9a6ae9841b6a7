"""Production settings, checked in a fresh process with only the production environment.

The static files are collected first, into a directory of the test's own,
as the deployment's build step does: the site's URLs name a static file.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def production(tmp_path):
    """Run ``manage.py`` with the production settings and nothing from the test environment."""
    module = tmp_path / "collected_settings.py"
    module.write_text(
        f"from demotemplate.settings import *  # noqa\nSTATIC_ROOT = {str(tmp_path / 'static')!r}\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "collected_settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "moves.example.org",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    def run(*args: str, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={name: value for name, value in env.items() if name not in drop},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_production_settings_pass_the_deploy_check(production):
    collected = production("collectstatic", "--noinput", "-v", "0")
    assert collected.returncode == 0, collected.stderr

    result = production("check", "--deploy", "--fail-level", "WARNING")

    assert (result.returncode, result.stdout.strip()) == (
        0,
        "System check identified no issues (1 silenced).",
    ), result.stderr


def test_production_settings_are_strict_by_default(production):
    names = [
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "X_FRAME_OPTIONS",
        "SECURE_PROXY_SSL_HEADER",
        "CELERY_TASK_ALWAYS_EAGER",
    ]
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps([getattr(s, n) for n in {names}]))"
    )

    result = production("shell", "-c", code)

    assert result.returncode == 0, result.stderr
    assert dict(zip(names, json.loads(result.stdout.splitlines()[-1]), strict=True)) == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CELERY_TASK_ALWAYS_EAGER": False,
    }


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set when DEBUG is off."),
        ("TOKEN_ENCRYPTION_KEYS", "TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off."),
    ],
)
def test_production_settings_refuse_to_start_without_a_secret(production, missing, message):
    result = production("check", drop=(missing,))

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"django.core.exceptions.ImproperlyConfigured: {message}"
