"""The one retry policy: what is tried again, by whom, how often, and what the member sees meanwhile.

- Inside a run nothing is retried and nothing sleeps: ``apiclients.http``
  makes one attempt per call, and the run stops at the first failure.
- A 429 from Moves is not a failure: the run stops, the member keeps their
  status and waits in the queue until the server's window reopens (the
  dispatcher hands out no capacity before that).
- Temporary failures (timeouts, connection failures, 5xx, an answer that is
  not the documented shape, the database, Redis or the disk failing): the
  run records the failure with the service in plain words, and the
  dispatcher gives the member no batch before ``now + backoff(n)``: 30 s,
  1, 2 and 4 minutes for failures 1 to 4. The member is shown
  "trying again" with that time from the first failure on.
- At the ``RETRY_MAX_FAILURES``-th (5th) failure in a row, or at once for a permanent
  failure (a 4xx other than 401 and 429), the member is "failing": tried
  again every ``FAILING_RETRY_SECONDS`` (6 hours) by itself, and at any
  time by *Try again now*.
- A refused token (401, ``invalid_grant``) needs the member: no retry until
  they reconnect, and they are told once by Open Humans message.
- Any success resets the count.

Every time here is divided by ``RATE_LIMIT_TIME_SCALE``, like the quota
windows, so demos and benchmarks see the same shape in seconds.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class NextTry:
    after: timedelta
    exhausted: bool


def next_try(failures: int, permanent: bool = False) -> NextTry:
    """When to try again after ``failures`` failures in a row (counting the one just seen)."""
    scale = settings.RATE_LIMIT_TIME_SCALE
    if permanent or failures >= settings.RETRY_MAX_FAILURES:
        return NextTry(timedelta(seconds=settings.FAILING_RETRY_SECONDS / scale), exhausted=True)
    seconds = settings.RETRY_BACKOFF_SECONDS * 2 ** max(0, failures - 1)
    return NextTry(timedelta(seconds=seconds / scale), exhausted=False)
