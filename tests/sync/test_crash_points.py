"""A run that fails or dies at any step of replacing the file never loses a day, and a re-run converges.

The member first holds 26 February to 7 March on the sandbox's Open Humans;
a week later a run breaks at one step of the replacement. Afterwards Open
Humans must still hold a file with every one of those days, and the next
run must leave exactly one file with every day once, in order.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.conf import settings

from apiclients.errors import UpstreamError
from apiclients.openhumans import OpenHumansClient
from datauploader.sync import sync_member
from datauploader.tasks import process_moves
from datauploader.worklog import DayLog
from main.models import MovesMember
from sandbox import testing
from tests.sync.conftest import TODAY, date_range, file_dates

STORAGE_NAME = settings.MOVES_FILE_NAME

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """The worker process died here: a BaseException, so nothing in the run handles it."""


def die(*args, **kwargs):
    raise Killed()


def die_on(method: str, url_end: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Kill the run when the Open Humans client is about to send ``method`` to a URL ending so."""
    from apiclients import openhumans

    real_send = openhumans.send

    def send(verb, url, *args, **kwargs):
        if verb == method and url.split("?")[0].endswith(url_end):
            raise Killed()
        return real_send(verb, url, *args, **kwargs)

    return lambda mp: mp.setattr(openhumans, "send", send)


# Faults are answered every time for long enough to outlast the client's retries.
CRASHES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "upload/direct fails": lambda mp: testing.add_fault("oh.upload_direct", status=500, count=50),
    "killed after upload/direct": die_on("PUT", STORAGE_NAME),
    "the PUT fails": lambda mp: testing.add_fault("oh.storage_put", status=500, count=50),
    "killed after the PUT": die_on("POST", "/upload/complete/"),
    "complete fails": lambda mp: testing.add_fault("oh.upload_complete", status=500, count=50),
    "killed after complete": lambda mp: mp.setattr(DayLog, "mark_uploaded", die),
    "killed before the delete": lambda mp: mp.setattr(OpenHumansClient, "delete_file", die),
    "delete fails": lambda mp: testing.add_fault("oh.delete", status=500, count=50),
    "killed after the delete": lambda mp: mp.setattr("datauploader.sync._finish", die),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_a_broken_replacement_keeps_every_day_and_a_rerun_converges(crash, sandbox_accounts, monkeypatch):
    accounts = sandbox_accounts("crash-" + crash.replace(" ", "-").replace("/", "-"), date(2018, 2, 26), 17)
    with time_machine.travel(datetime(2018, 3, 7, 12, 0, tzinfo=UTC)):
        process_moves.apply(args=[accounts.oh_id]).get()
    [held_before] = file_dates(accounts.oh_member)
    assert held_before == date_range(date(2018, 2, 26), date(2018, 3, 7))

    with monkeypatch.context() as patched:
        CRASHES[crash](patched)
        with pytest.raises((Killed, UpstreamError)):
            sync_member(MovesMember.objects.get(pk=accounts.member.pk))

    assert any(set(held_before) <= set(dates) for dates in file_dates(accounts.oh_member))

    testing.clear_faults()
    process_moves.apply(args=[accounts.oh_id]).get()

    [held_after] = file_dates(accounts.oh_member)
    assert held_after == date_range(date(2018, 2, 26), TODAY)
    member = MovesMember.objects.get(pk=accounts.member.pk)
    [stored] = testing.stored_files(accounts.oh_member)
    assert member.file_id == stored.pk
    assert member.status == MovesMember.Status.CURRENT
    assert member.days_held == len(held_after)
