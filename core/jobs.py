"""What the web side and the commands ask of the worker, sent by task name.

The core names the worker's tasks but never imports the worker: a task is
looked up by name in the Celery app at run time, so either side can be read
and changed alone. Messages go out only after the current transaction
commits, so a worker never looks for a row that is not there yet. A broker
that is down does not fail the page: the worker's own clock dispatches
waiting members every minute anyway, and leftover local histories are
removed when a worker starts.
"""

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DISPATCH = "datauploader.dispatch"
DISCARD_HISTORY = "datauploader.discard_history"


def wake_dispatcher() -> None:
    """Hand out quota now rather than at the next minute (a member just asked for work)."""
    transaction.on_commit(lambda: _send(DISPATCH))


def discard_local_history(oh_id: str) -> None:
    """Have every worker machine delete its copy of the member's history."""
    transaction.on_commit(lambda: _send(DISCARD_HISTORY, oh_id))


def _send(name: str, *args: Any) -> None:
    try:
        current_app.signature(name, args=args).apply_async()
    except (OperationalError, RedisError, OSError) as exc:
        log.warning("could not queue %s: %s", name, type(exc).__name__)
