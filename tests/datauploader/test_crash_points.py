"""A run that fails or dies at any step of replacing the file never loses a day, and the next run converges.

The member first holds their history on the stand-in Open Humans; then a
day changes at Moves, an update is asked for, and the run that uploads the
new file breaks at one step of the replacement: an error answer from Open
Humans, or the process dying there (a ``BaseException`` that nothing in the
run handles). Afterwards Open Humans must still hold a file with every day
held before; once the fault is gone, the next runs must leave exactly one
file with every day once, in order, recorded as the member's.
"""

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from apiclients import openhumans
from apiclients.errors import UpstreamError
from apiclients.openhumans import OpenHumansClient
from core.models import MovesMember
from datauploader.dispatch import Dispatcher
from datauploader.sync import Sync
from sandbox import testing
from tests.connected import Connected, edit_a_day, settle


class Killed(BaseException):
    """The worker process died here: nothing in the run handles a BaseException."""


def die(*args, **kwargs):
    raise Killed()


def die_before(method: str, url_end: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Kill the run when the Open Humans client is about to send ``method`` to a URL ending so."""
    real_send = openhumans.send

    def send(verb, url, *args, **kwargs):
        if verb == method and url.split("?")[0].endswith(url_end):
            raise Killed()
        return real_send(verb, url, *args, **kwargs)

    return lambda patch: patch.setattr(openhumans, "send", send)


def fault(endpoint: str) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda patch: testing.add_fault(endpoint, status=500, count=1)


CRASHES = [
    pytest.param(fault("oh.upload_direct"), id="upload/direct fails"),
    pytest.param(die_before("PUT", "moves-storyline-data.json"), id="killed after upload/direct"),
    pytest.param(fault("oh.storage_put"), id="the PUT fails"),
    pytest.param(die_before("POST", "/upload/complete/"), id="killed after the PUT"),
    pytest.param(fault("oh.upload_complete"), id="complete fails"),
    pytest.param(lambda patch: patch.setattr(MovesMember, "record_upload", die), id="killed after complete"),
    pytest.param(
        lambda patch: patch.setattr(OpenHumansClient, "delete_file", die), id="killed before the delete"
    ),
    pytest.param(fault("oh.delete"), id="delete fails"),
    pytest.param(lambda patch: patch.setattr(Sync, "_store_summaries", die), id="killed after the delete"),
]


def file_dates(person: Connected) -> list[list[str]]:
    """The dates of each of the member's completed files on the stand-in, oldest file first."""
    return [
        [day["date"] for day in json.loads(testing.read_file_bytes(f))]
        for f in testing.stored_files(person.oh)
    ]


@pytest.mark.parametrize("crash", CRASHES)
def test_a_broken_replacement_keeps_every_day_and_the_next_runs_converge(
    connect, monkeypatch, settings, crash
):
    # A failed run is tried again after a tenth of a second, not half a second.
    settings.RETRY_BACKOFF_SECONDS = 6
    person = connect(days=10)
    member = settle(person.member)
    [held_before] = file_dates(person)
    # A day changes at Moves, so the update has a new file to upload.
    edit_a_day(person.user, date.today() - timedelta(days=2))
    assert member.claim_manual_update() is True

    with monkeypatch.context() as patch:
        crash(patch)
        try:
            Dispatcher().dispatch()
        except (Killed, UpstreamError):
            pass

    assert any(set(held_before) <= set(dates) for dates in file_dates(person))
    member = settle(member)
    assert file_dates(person) == [[day["date"] for day in person.moves_days()]]
    assert person.file_days() == person.moves_days()
    [stored] = testing.stored_files(person.oh)
    assert (member.status, member.file_id, member.days_held) == (MovesMember.Status.CURRENT, stored.pk, 10)
