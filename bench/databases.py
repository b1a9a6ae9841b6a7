"""Fresh benchmark databases: PostgreSQL when it answers, SQLite files otherwise."""

import subprocess
import sys
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"


def fresh_database(name: str, work_dir: Path, server_url: str = DEFAULT_SERVER) -> tuple[str, str]:
    """Drop and create ``name``; returns (DATABASE_URL, engine label)."""
    try:
        with psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{server_url}/{name}", "PostgreSQL"
    except psycopg.OperationalError:
        path = work_dir / f"{name}.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}", "SQLite"


def drop_database(url: str, server_url: str = DEFAULT_SERVER) -> None:
    """Drop the database of ``url`` (a SQLite file is left to its work directory)."""
    if not url.startswith(server_url + "/"):
        return
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
