"""Worker machines, and which one keeps each member's history.

A member's local history lives on one worker machine's disk. To keep it
there (rather than downloading the whole file from Open Humans again on
another machine), every machine consumes a queue of its own,
``history.<name>``, and the dispatcher sends a member's runs to the queue
of the machine that ran them last (``MovesMember.worker_home``) while that
machine is alive. A new member, or one whose machine stopped, goes to the
live machine with the fewest members assigned in this round. Machines say
they are alive every minute (``heartbeat``); one silent for three minutes is
taken for gone.
"""

import time

import redis
from django.conf import settings

ALIVE_KEY = "workers:alive"
ALIVE_WINDOWS = 3


def this_machine() -> str:
    return settings.WORKER_NAME


def queue_of(name: str) -> str:
    """The queue of machine ``name``; the shared queue when no machine is known."""
    return f"history.{name}" if name else settings.CELERY_TASK_DEFAULT_QUEUE


def heartbeat(client: redis.Redis, name: str | None = None) -> None:
    client.zadd(ALIVE_KEY, {name or this_machine(): time.time()})


def alive(client: redis.Redis) -> list[str]:
    silent_after = ALIVE_WINDOWS * 60 / settings.RATE_LIMIT_TIME_SCALE
    client.zremrangebyscore(ALIVE_KEY, "-inf", time.time() - max(silent_after, 5.0))
    return sorted(
        name.decode() if isinstance(name, bytes) else str(name) for name in client.zrange(ALIVE_KEY, 0, -1)
    )


class Homes:
    """Chooses the machine for each member of one dispatch round."""

    def __init__(self, client: redis.Redis) -> None:
        self.alive = alive(client)
        self.assigned = dict.fromkeys(self.alive, 0)

    def home_for(self, current: str) -> str:
        if not self.alive:
            return ""
        home = (
            current
            if current in self.assigned
            else min(self.alive, key=lambda name: (self.assigned[name], name))
        )
        self.assigned[home] += 1
        return home
