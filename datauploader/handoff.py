"""A run that used up its batch waits for the member's next one, instead of a new run being queued.

A member's backfill usually spans several minute windows, and first come,
first served gives the next window to the member already being fetched.
Without this, each window costs a new ``process_moves`` run, which reads
tokens, the member's files on Open Humans and the local history again.

The run waits only when the dispatcher's plan, as things stand, gives its
member's backfill a batch in this minute or the next; when the hour's quota
is not spent; and when its machine is not stopping. It registers as live in
Redis, and the dispatcher, finding it in its plan, hands it the batch
through a list (``offer``) rather than queueing a run. A live key and the
hand-over are checked and changed in one script on each side, so a batch is
either taken by the run or never handed to it; a batch handed over just as
the wait ended is taken on the way out. A killed run's key expires after
the window it waited for, and its member is queued again as usual.
"""

import logging
import time
from collections.abc import Callable

import redis
from django.db import DatabaseError

from apiclients.quota import Batch, MovesQuota
from datauploader import machines

log = logging.getLogger(__name__)

LIVE_SET = "handoff:live"
LIVE_KEY = "handoff:live:{pk}"
BATCH_KEY = "handoff:batch:{pk}"
STOPPING_KEY = "handoff:stopping:{machine}"
# A stopping worker's flag outlives the warm shutdown it announces.
STOPPING_SECONDS = 120
# How long after the next window opens a run still waits for its batch:
# the tick that hands it out runs within a fraction of a second.
GRACE_OF_MINUTE = 0.15
# Each wait is cut in slices so that a stopping worker is noticed.
SLICE_SECONDS = 1.0

# KEYS: live key, batch list, live set; ARGV: batch, pk, batch lifetime (ms).
_OFFER = """
if redis.call('exists', KEYS[1]) == 0 then
  redis.call('srem', KEYS[3], ARGV[2])
  return 0
end
redis.call('del', KEYS[1])
redis.call('srem', KEYS[3], ARGV[2])
redis.call('rpush', KEYS[2], ARGV[1])
redis.call('pexpire', KEYS[2], ARGV[3])
return 1
"""

# KEYS: live key, batch list, live set; ARGV: pk.
_LEAVE = """
redis.call('del', KEYS[1])
redis.call('srem', KEYS[3], ARGV[1])
return redis.call('lpop', KEYS[2])
"""


def _keys(pk: int) -> list[str]:
    return [LIVE_KEY.format(pk=pk), BATCH_KEY.format(pk=pk), LIVE_SET]


def _encode(batch: Batch) -> str:
    return f"{batch.minute}:{batch.size}"


def _decode(raw: bytes | str) -> Batch:
    text = raw.decode() if isinstance(raw, bytes) else raw
    minute, size = text.split(":")
    return Batch(minute=int(minute), size=int(size))


def live_members(client: redis.Redis) -> list[int]:
    """Members whose run waits for its next batch (possibly a killed run's, until its key is checked)."""
    return [int(pk) for pk in client.smembers(LIVE_SET)]


def offer(client: redis.Redis, pk: int, batch: Batch, quota: MovesQuota) -> bool:
    """Hand ``batch`` to the member's waiting run; False when no run waits for it any more."""
    lifetime_ms = int(quota.minute.length * 1000)
    return bool(client.eval(_OFFER, 3, *_keys(pk), _encode(batch), pk, lifetime_ms))


def _leave(client: redis.Redis, pk: int) -> Batch | None:
    raw = client.eval(_LEAVE, 3, *_keys(pk), pk)
    return _decode(raw) if raw else None


def mark_stopping(client: redis.Redis) -> None:
    """This machine's worker begins a warm shutdown: its runs stop waiting for more batches."""
    client.set(STOPPING_KEY.format(machine=machines.this_machine()), "1", ex=STOPPING_SECONDS)


def clear_stopping(client: redis.Redis) -> None:
    client.delete(STOPPING_KEY.format(machine=machines.this_machine()))


def next_window_start(quota: MovesQuota, now: float) -> float | None:
    """When (our clock) the next minute window opens, or None when the hour's quota is spent."""
    if quota.next_opening(now) - now > quota.minute.length:
        return None
    _, latest = quota.server_time_bounds(now)
    return quota.local_start_of(quota.minute, quota.minute.index(latest) + 1)


def wait_for_batch(
    pk: int, quota: MovesQuota, served_next: Callable[[], bool], dispatch: Callable[[], object]
) -> Batch | None:
    """The member's next batch, if it comes with the next window; None when the run should end.

    ``served_next`` says whether the dispatcher would give the member a batch
    as things stand; a run that would get nothing ends rather than hold a
    worker process. ``dispatch`` hands out the quota at once when the current
    minute still has room: a run that used its batch up to the end of a
    minute registers just after the next one opened and its tick passed.
    """
    client = quota.client
    stopping = STOPPING_KEY.format(machine=machines.this_machine())
    try:
        now = time.time()
        opens = next_window_start(quota, now)
        if opens is None or client.exists(stopping) or not served_next():
            return None
        deadline = opens + quota.margin + GRACE_OF_MINUTE * quota.minute.length
        live_ms = int((deadline - now + quota.minute.length) * 1000)
        with client.pipeline() as pipe:
            pipe.set(LIVE_KEY.format(pk=pk), "1", px=live_ms)
            pipe.sadd(LIVE_SET, pk)
            pipe.execute()
        if quota.free() > 0:
            try:
                dispatch()
            except DatabaseError as exc:
                # The window's own tick, or the next, hands the batch out instead.
                log.warning("run of member %s: could not ask for a dispatch (%s)", pk, type(exc).__name__)
        while (left := deadline - time.time()) > 0 and not client.exists(stopping):
            got = client.blpop([BATCH_KEY.format(pk=pk)], timeout=min(SLICE_SECONDS, max(left, 0.01)))
            if got is not None:
                return _decode(got[1])
        return _leave(client, pk)
    except redis.RedisError as exc:
        log.warning("run of member %s: could not wait for its next batch (%s)", pk, type(exc).__name__)
        return None
