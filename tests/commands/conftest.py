"""Fixtures of the command tests: the task queue's boundary, and cassettes recorded against the sandbox.

The ``import_users`` cassettes are recorded from the sandbox's token and
exchange-member endpoints served by ``live_server``:

    RECORD_CASSETTES=1 pytest tests/commands/test_import_users.py

Recording writes each cassette with every token replaced by a named stand-in
ending in ``-fake`` (the member's original tokens are ``<service>-refresh-<who>-fake``,
the pair a refresh returns is ``<service>-access-<who>-new-fake`` and
``<service>-refresh-<who>-new-fake``), the server's address replaced by
``RECORDED_BASE`` and everything else sent (client credentials, other headers)
left out. Replaying (the default) uses ``record_mode="none"``: a request the
cassette does not hold fails the test, so no test reaches a server.
"""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import vcr
import yaml

from sandbox import testing

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "commands"
RECORDED_BASE = "http://127.0.0.1:8000"
RECORDING = os.environ.get("RECORD_CASSETTES") == "1"
KEPT_RESPONSE_HEADERS = ("Content-Type",)


@pytest.fixture
def queued(monkeypatch) -> list[str]:
    """The member ids handed to ``process_moves``, in order.

    ``process_moves`` itself is the boundary here: the suite runs Celery
    eagerly, so letting it through would run each member's sync (against
    upstreams) inside a test about scheduling. The fan-out task still runs.
    """
    from datauploader.tasks import process_moves

    calls: list[str] = []

    def record(args=None, kwargs=None, **options) -> None:
        calls.append(args[0])

    monkeypatch.setattr(process_moves, "apply_async", record)
    return calls


def _credential(request) -> str | None:
    """What identifies a request to the sandbox: its bearer token, else the refresh token it spends."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization
    body = request.body or b""
    if isinstance(body, bytes):
        body = body.decode()
    return dict(parse_qsl(body)).get("refresh_token")


def same_credential(r1, r2) -> None:
    assert _credential(r1) == _credential(r2)


def replayer(library: Path, record_mode: str) -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(library),
        record_mode=record_mode,
        # Which token a request carries decides the answer (a refused token or
        # a good one to the same URL), so it is part of the match.
        match_on=["method", "scheme", "host", "port", "path", "query", "credential"],
    )
    recorder.register_matcher("credential", same_credential)
    return recorder


@dataclass
class Upstream:
    """Sandbox accounts for a test: stand-in tokens when replaying, real sandbox ones when recording."""

    base_url: str
    tmp_path: Path
    # Real sandbox token -> its stand-in; empty when replaying.
    stand_ins: dict[str, str] = field(default_factory=dict)

    def member(self, who: str, oh_id: str, moves_id: int) -> tuple[str, str]:
        """The (Open Humans, Moves) refresh tokens of a sandbox member, to put in the import file."""
        oh_fake, moves_fake = f"oh-refresh-{who}-fake", f"moves-refresh-{who}-fake"
        if not RECORDING:
            return oh_fake, moves_fake
        oh_member = testing.create_oh_member(who)
        oh_member.project_member_id = oh_id
        oh_member.save(update_fields=["project_member_id"])
        moves_user = testing.create_moves_user(who)
        moves_user.moves_id = moves_id
        moves_user.save(update_fields=["moves_id"])
        _, oh_refresh = testing.issue_oh_tokens(oh_member)
        _, moves_refresh = testing.issue_moves_tokens(moves_user)
        self.stand_ins.update({oh_refresh: oh_fake, moves_refresh: moves_fake})
        return oh_refresh, moves_refresh

    def fake(self, token: str) -> str:
        """The stand-in of a token the app stored (the token itself when replaying)."""
        return self.stand_ins.get(token, token)

    @contextmanager
    def cassette(self, name: str) -> Iterator[vcr.cassette.Cassette]:
        if not RECORDING:
            with replayer(CASSETTES, "none").use_cassette(name + ".yaml") as tape:
                yield tape
            return
        raw = self.tmp_path / "raw"
        with replayer(raw, "all").use_cassette(name + ".yaml") as tape:
            yield tape
        tape_data = yaml.safe_load((raw / (name + ".yaml")).read_text())
        CASSETTES.mkdir(parents=True, exist_ok=True)
        cleaned = scrub(tape_data, self.base_url, self.stand_ins)
        header = "# Recorded against the sandbox by RECORD_CASSETTES=1; see tests/commands/conftest.py.\n"
        (CASSETTES / (name + ".yaml")).write_text(header + yaml.safe_dump(cleaned, sort_keys=False))


def scrub(tape: dict, base_url: str, stand_ins: dict[str, str]) -> dict:
    """The cassette with stand-ins for every token, RECORDED_BASE for the server, and nothing else sent."""
    for interaction in tape["interactions"]:
        request, response = interaction["request"], interaction["response"]
        request["uri"] = request["uri"].replace(base_url.rstrip("/"), RECORDED_BASE)
        headers = {}
        for name, values in request["headers"].items():
            if name.lower() == "authorization" and values[0].startswith("Bearer "):
                headers["Authorization"] = ["Bearer " + stand_ins[values[0].removeprefix("Bearer ")]]
        request["headers"] = headers
        spent = None
        if request["body"]:
            body = request["body"]
            fields = dict(parse_qsl(body.decode() if isinstance(body, bytes) else body))
            spent = stand_ins.get(fields["refresh_token"], fields["refresh_token"])
            request["body"] = urlencode({"grant_type": fields["grant_type"], "refresh_token": spent})
        response["headers"] = {
            name: values for name, values in response["headers"].items() if name in KEPT_RESPONSE_HEADERS
        }
        reply = json.loads(response["body"]["string"])
        if isinstance(reply, dict) and "refresh_token" in reply:
            # A refreshed pair is named after the refresh token that bought it.
            new_refresh = spent.removesuffix("-fake") + "-new-fake"
            new_access = new_refresh.replace("-refresh-", "-access-", 1)
            stand_ins[reply["access_token"]] = new_access
            stand_ins[reply["refresh_token"]] = new_refresh
            reply.update(access_token=new_access, refresh_token=new_refresh)
            response["body"]["string"] = json.dumps(reply)
    return tape


@pytest.fixture
def upstream(request, settings, tmp_path) -> Upstream:
    """The sandbox the app talks to: ``live_server`` when recording, its recorded address otherwise."""
    base_url = request.getfixturevalue("live_server").url if RECORDING else RECORDED_BASE
    testing.point_app_at_sandbox(settings, base_url)
    return Upstream(base_url=base_url, tmp_path=tmp_path)


@pytest.fixture
def write_lines(tmp_path) -> Callable[..., Path]:
    def write(*lines: str) -> Path:
        path = tmp_path / "members.csv"
        path.write_text("".join(line + "\n" for line in lines))
        return path

    return write
