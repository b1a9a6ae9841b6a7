"""The worker's clock: at the top of every server minute, hand out the quota and say this machine is alive.

A bootstep of the worker's consumer, on the worker's own timer, so it runs
however busy the pool is and needs no ETA messages (a message held by a dead
worker would stall everything until the broker gave it back). It belongs to
the consumer, not the worker, because Celery empties the timer whenever the
broker connection is lost and starts the consumer's steps again once it is
back: arming in ``start`` is what keeps the clock going after a Redis
restart. Every machine ticks; the dispatcher's lock lets one of them hand out
each window, so losing a machine loses no tick. It also makes the worker
consume its own queue (``datauploader.machines``) and, once per process,
removes local histories this machine should not hold any more.
"""

import logging
import time
from typing import Any

import redis
from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections

from apiclients.quota import moves_quota
from datauploader import handoff, machines
from datauploader.dispatch import Dispatcher
from datauploader.history import prune_local_histories

log = logging.getLogger(__name__)


class Ticker(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        self.timer: Any = None
        self.entry: Any = None
        self.stopped = False
        self.pruned = False

    def start(self, consumer: Any) -> None:
        self.timer = consumer.timer
        self.stopped = False
        if not self.pruned:
            self.pruned = True
            self._prune()
        self._cancel()
        self._arm(time.time())

    def stop(self, consumer: Any) -> None:
        self.stopped = True
        self._cancel()

    def shutdown(self, consumer: Any) -> None:
        self.stop(consumer)

    def _cancel(self) -> None:
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None

    def _prune(self) -> None:
        try:
            removed = prune_local_histories()
            if removed:
                log.info("removed the local histories of %d members this machine no longer keeps", removed)
        except Exception:
            log.exception("could not check the local histories")
        finally:
            close_old_connections()

    def _arm(self, now: float) -> None:
        if self.stopped:
            return
        try:
            quota = moves_quota()
            minute = quota.minute
            _, latest = quota.server_time_bounds(now)
            at = quota.local_start_of(minute, minute.index(latest) + 1) + quota.margin
        except redis.RedisError:
            at = now + 60 / settings.RATE_LIMIT_TIME_SCALE
        # The worker's timer counts on the monotonic clock, not the wall
        # clock the windows are named by: give it a delay, not a moment.
        self.entry = self.timer.call_after(max(at - now, 0.05), self._tick)

    def _tick(self) -> None:
        try:
            # The timer's thread keeps its database connection between ticks:
            # drop it if it went stale meanwhile (Celery does so around tasks).
            close_old_connections()
            client = redis.Redis.from_url(settings.REDIS_URL)
            machines.heartbeat(client)
            Dispatcher(client=client).dispatch()
        except Exception:
            # The clock must keep ticking whatever one tick met (Redis or the
            # database away): the next minute tries again.
            log.exception("dispatch tick failed")
        finally:
            close_old_connections()
            self._arm(time.time())


class OwnQueue(bootsteps.StartStopStep):
    """Consume this machine's own queue besides the shared one."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer: Any) -> None:
        consumer.add_task_queue(machines.queue_of(machines.this_machine()))
        try:
            # A worker started again under the same name is not stopping any more.
            handoff.clear_stopping(redis.Redis.from_url(settings.REDIS_URL))
        except redis.RedisError:
            log.warning("could not clear this machine's stopping flag")
