"""A queued run's batch, held in Redis until the run is about to use it, and renewed for each window it waits.

The dispatcher reserves a member's batch in one server minute and queues a
run for it. When the worker processes are busy, the run may start after
that minute ended, or end its preparation (tokens, the member's files, the
local history) after it; its batch is then worthless, and without more the
member would be queued again next window, as a second run. So the batch is
not sent with the run: it is kept under a ticket, and the run claims it just
before its first Moves request. Until then, each window's dispatch renews
the ticket with a batch of the new minute (when the member's turn comes),
and gives the lapsed one back. A ticket is changed and claimed only by the
scripts below, so a batch is either claimed by the run or replaced, never
both.

A ticket lives for ``PATIENCE_WINDOWS`` minutes. A run that never starts (its
message was lost, its machine stopped) is then forgotten, the member is
queued again, and the old run, should it start after all, finds the ticket
gone or replaced and ends at once.
"""

import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from apiclients.quota import Batch, MovesQuota

TICKET_KEY = "dispatch:ticket:{pk}"
# Members with a ticket, so that the dispatcher finds them all, those whose run holds the lease too.
TICKETS_SET = "dispatch:tickets"
PATIENCE_WINDOWS = 5
# How long into a window a run whose ticket lapsed waits for the window's dispatch to renew it.
RENEWAL_GRACE_OF_MINUTE = 0.15
POLL_SECONDS = 0.02

# A ticket's value: "id|started|minute|size|home". Each script acts only if the ticket is still ``id``.
_FIELDS = "^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$"

# KEYS: the ticket, the set; ARGV: ticket id, pk, "unstarted" to leave a taken ticket alone.
# Returns the ticket and deletes it.
_CLAIM = f"""
local value = redis.call('get', KEYS[1])
if not value then
  return false
end
local id, started = string.match(value, '{_FIELDS}')
if id ~= ARGV[1] or (ARGV[3] == 'unstarted' and started == '1') then
  return false
end
redis.call('del', KEYS[1])
redis.call('srem', KEYS[2], ARGV[2])
return value
"""

# KEYS: the ticket; ARGV: ticket id, then the new started mark, minute and size, each kept when
# empty. Rewrites the ticket if it is still this one; returns its old value.
_REWRITE = f"""
local value = redis.call('get', KEYS[1])
if not value then
  return false
end
local fields = {{string.match(value, '{_FIELDS}')}}
if fields[1] ~= ARGV[1] then
  return false
end
for i = 2, 4 do
  if ARGV[i] ~= '' then
    fields[i] = ARGV[i]
  end
end
redis.call('set', KEYS[1], table.concat(fields, '|'), 'KEEPTTL')
return value
"""


@dataclass(frozen=True)
class Ticket:
    """The batch held for one queued run: ``home`` is the machine whose queue holds the run.

    ``started`` says the run took its member's lease: if the lease then ends
    with the ticket unclaimed, the run died before its first request.
    """

    id: str
    batch: Batch
    home: str
    started: bool = False

    def encode(self) -> str:
        return f"{self.id}|{int(self.started)}|{self.batch.minute}|{self.batch.size}|{self.home}"

    @classmethod
    def decode(cls, raw: bytes | str) -> "Ticket":
        text = raw.decode() if isinstance(raw, bytes) else raw
        ticket_id, started, minute, size, home = text.split("|", 4)
        return cls(ticket_id, Batch(minute=int(minute), size=int(size)), home, started == "1")

    def lapsed(self, minute: int | None) -> bool:
        """Its batch's minute is over (``minute`` is the current one; None near a boundary)."""
        return minute is not None and self.batch.minute < minute

    def as_task_argument(self) -> dict[str, int | str]:
        return {**self.batch.as_task_argument(), "ticket": self.id}


def issue(client: redis.Redis, pk: int, batch: Batch, home: str, quota: MovesQuota) -> Ticket:
    """Hold ``batch`` for the member's run about to be queued on ``home``'s queue."""
    ticket = Ticket(uuid.uuid4().hex[:16], batch, home)
    patience_ms = int(PATIENCE_WINDOWS * quota.minute.length * 1000)
    with client.pipeline() as pipe:
        pipe.set(TICKET_KEY.format(pk=pk), ticket.encode(), px=patience_ms)
        pipe.sadd(TICKETS_SET, pk)
        pipe.execute()
    return ticket


def held(client: redis.Redis, pks: Iterable[int]) -> dict[int, Ticket]:
    """The tickets of these members' queued runs."""
    pks = list(pks)
    if not pks:
        return {}
    values = client.mget([TICKET_KEY.format(pk=pk) for pk in pks])
    return {pk: Ticket.decode(value) for pk, value in zip(pks, values, strict=True) if value is not None}


def every_ticket(client: redis.Redis) -> dict[int, Ticket]:
    """Every member's ticket; members whose ticket expired are forgotten here."""
    members = {int(pk) for pk in client.smembers(TICKETS_SET)}
    tickets = held(client, members)
    expired = members - set(tickets)
    if expired:
        client.srem(TICKETS_SET, *expired)
    return tickets


def claim(client: redis.Redis, pk: int, ticket_id: str, *, unless_taken: bool = False) -> Batch | None:
    """The batch held for this run, now its own; None when the ticket is gone or was replaced.

    ``unless_taken`` leaves alone a ticket that a run holding the lease has
    taken: a second delivery of the same message must not take its batch.
    """
    which = "unstarted" if unless_taken else "any"
    value = client.eval(_CLAIM, 2, TICKET_KEY.format(pk=pk), TICKETS_SET, ticket_id, pk, which)
    return Ticket.decode(value).batch if value else None


def renew(client: redis.Redis, pk: int, ticket: Ticket, batch: Batch) -> Batch | None:
    """Hold ``batch`` instead, for the same queued run; the batch replaced, or None if the run claimed it."""
    value = client.eval(_REWRITE, 1, TICKET_KEY.format(pk=pk), ticket.id, "", batch.minute, batch.size)
    return Ticket.decode(value).batch if value else None


class RunTicket:
    """A run's hold on its ticket, claimed when the run is about to send its first Moves request."""

    def __init__(self, quota: MovesQuota, pk: int, ticket_id: str) -> None:
        self.quota = quota
        self.pk = pk
        self.id = ticket_id
        self.claimed = False

    def start(self) -> bool:
        """Mark the ticket as taken by a run holding the lease; False when it was forgotten or replaced."""
        return bool(self.quota.client.eval(_REWRITE, 1, TICKET_KEY.format(pk=self.pk), self.id, "1", "", ""))

    def claim(self) -> Batch | None:
        """The batch, once; a lapsed one is first given the time its window's dispatch takes to renew it.

        The wait is short and only while the window has room the dispatcher
        has not handed out: the tick that renews tickets runs as the window
        opens.
        """
        if self.claimed:
            return None
        # Counted in polls, not read off a clock: the wait ends even if the clock stands still.
        for _ in range(math.ceil(RENEWAL_GRACE_OF_MINUTE * self.quota.minute.length / POLL_SECONDS)):
            ticket = held(self.quota.client, [self.pk]).get(self.pk)
            if ticket is None or ticket.id != self.id:
                break
            # Near a minute's edge it is not yet known whether the ticket lapsed.
            minute = self.quota.certain_minute()
            if minute is not None and (not ticket.lapsed(minute) or self.quota.free() <= 0):
                break
            time.sleep(POLL_SECONDS)
        self.claimed = True
        return claim(self.quota.client, self.pk, self.id)

    def release(self) -> Batch | None:
        """For a run that ends without having claimed it: the batch, to be given back."""
        if self.claimed:
            return None
        self.claimed = True
        return claim(self.quota.client, self.pk, self.id)

    def give_up(self) -> Batch | None:
        """For a run that never took the lease: the batch, unless a run holding the lease took the ticket."""
        self.claimed = True
        return claim(self.quota.client, self.pk, self.id, unless_taken=True)
