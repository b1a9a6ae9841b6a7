"""What the web side asks of the worker: sent by name, after the commit, never failing a page."""

import logging

from celery.canvas import Signature
from kombu.exceptions import OperationalError

from core import jobs


def test_wake_dispatcher_sends_after_the_commit(db, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        jobs.wake_dispatcher()
        assert queued_tasks() == []

    callbacks[0]()

    assert queued_tasks() == [("datauploader.dispatch", [])]


def test_discard_local_history_names_the_member(db, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        jobs.discard_local_history("23456789")

    assert queued_tasks() == [("datauploader.discard_history", ["23456789"])]


def test_a_broker_that_is_down_fails_no_page(db, monkeypatch, caplog, django_capture_on_commit_callbacks):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    # The broker is the boundary: this is what kombu raises when Redis does not answer.
    monkeypatch.setattr(Signature, "apply_async", broker_down)

    with (
        caplog.at_level(logging.WARNING, logger="core.jobs"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        jobs.wake_dispatcher()

    assert [record.getMessage() for record in caplog.records] == [
        "could not queue datauploader.dispatch: OperationalError"
    ]
