"""The one place that hands out the Moves quota: whole batches, to members in a fair order.

Moves counts requests per app, so every member shares one budget. When a
window opens (every worker's clock ticks at the top of each server minute,
``datauploader.ticker``) and whenever a member asks for work or a run gives
capacity back, ``dispatch`` runs, one at a time under a Redis lock:

1. It reads how much of the current minute and hour is free.
2. It takes the members waiting for a sync (``MovesMember.objects.waiting()``:
   rows in the database, so nothing waits in a worker and a Redis restart
   loses no one) in order: updates of current members first, then each new
   member's first batch (profile and the two latest weeks, so their file
   appears at once), then backfills first come, first served, then the
   weekly sweep.
3. It reserves each member's whole batch in both windows in one atomic step
   (``MovesQuota.reserve``) and queues one ``process_moves`` run for it, on
   the queue of the worker machine that keeps the member's history. The
   batch is held under a ticket until the run is about to use it
   (``datauploader.tickets``): a run that is late for its minute gets its
   member's batch of the next window, not a second run beside it.

A member without a batch gets no run at all. A run sends only its batch's
requests, and only while the batch's server minute lasts; what it does not
use it gives back.
"""

import logging
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.utils import timezone

from apiclients.quota import MovesQuota, moves_quota
from core.models import FIRST_BATCH_REQUESTS, MovesMember, Priority
from datauploader import handoff, machines, tickets

log = logging.getLogger(__name__)

LOCK_KEY = "dispatch:lock"
# More members than this in one window would not get a request each anyway.
MAX_MEMBERS_PER_DISPATCH = 500


@dataclass
class Allotment:
    pk: int
    oh_id: str
    size: int
    home: str


@dataclass
class DispatchReport:
    free: int = 0
    waiting: int = 0
    sent: list[Allotment] = field(default_factory=list)
    skipped: str = ""

    @property
    def requests(self) -> int:
        return sum(allotment.size for allotment in self.sent)


@dataclass
class Waiting:
    pk: int
    oh_id: str
    priority: int
    wanted: int
    home: str
    # A run of this member waits for its next batch (``datauploader.handoff``).
    live: bool = False
    # A run of this member holds a ticket whose batch lapsed before the run used it.
    queued: tickets.Ticket | None = None
    # That run took the member's lease and lost it unclaimed: it died.
    run_died: bool = False


def plan_batches(waiting: list[Waiting], free: int) -> list[tuple[Waiting, int]]:
    """How much of ``free`` each waiting member gets, in the order given (already fair).

    Updates get what they need; new members get a first batch; then the
    rest goes to backfills in queue order, new members included, as whole
    batches as far as the capacity goes. A new member's need is not known
    before its profile is read, so the first of them may take all that is
    left and gives back what it does not use.
    """
    allot: dict[int, int] = {}
    order: list[Waiting] = []
    left = free

    def give(member: Waiting, size: int) -> None:
        nonlocal left
        size = min(size, left)
        if size <= 0:
            return
        if member.pk not in allot:
            order.append(member)
        allot[member.pk] = allot.get(member.pk, 0) + size
        left -= size

    for member in waiting:
        if member.priority == Priority.UPDATE:
            give(member, max(1, member.wanted))
    for member in waiting:
        if member.priority == Priority.FIRST:
            give(member, FIRST_BATCH_REQUESTS)
    for member in waiting:
        if member.priority == Priority.FIRST:
            give(member, left)
        elif member.priority == Priority.BACKFILL:
            give(member, max(1, member.wanted))
    for member in waiting:
        if member.priority == Priority.SWEEP:
            give(member, max(1, member.wanted))
    return [(member, allot[member.pk]) for member in order]


class Dispatcher:
    def __init__(self, quota: MovesQuota | None = None, client: redis.Redis | None = None) -> None:
        self.client = client or redis.Redis.from_url(settings.REDIS_URL)
        self.quota = quota or moves_quota(self.client)

    def dispatch(self) -> DispatchReport:
        report = DispatchReport()
        lock = self.client.lock(LOCK_KEY, timeout=30, blocking=False)
        if not lock.acquire():
            report.skipped = "another dispatch is running"
            return report
        try:
            runs = self._dispatch(report)
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("dispatch outlived its lock")
        # Sent after the lock is released: a run that ends at once (or runs
        # inline, in tests) may want to dispatch again.
        from datauploader.tasks import process_moves

        for oh_id, batch, queue in runs:
            process_moves.apply_async(args=(oh_id, batch), queue=queue)
        if report.sent:
            log.info(
                "dispatch: %d requests to %d members (%d free, %d waiting)",
                report.requests,
                len(report.sent),
                report.free,
                report.waiting,
            )
        return report

    def _dispatch(self, report: DispatchReport) -> list[tuple[str, dict[str, int | str], str]]:
        runs: list[tuple[str, dict[str, int | str], str]] = []
        report.free = self.quota.free()
        if report.free <= 0:
            report.skipped = "no quota free"
            return runs
        homes = machines.Homes(self.client)
        waiting = self._without_lost_runs(self._waiting(), homes)
        report.waiting = len(waiting)
        report.free = self.quota.free()
        for member, size in plan_batches(waiting, report.free):
            batch = self.quota.reserve(size)
            if batch is None:
                break
            if member.live:
                if handoff.offer(self.client, member.pk, batch, self.quota):
                    report.sent.append(Allotment(member.pk, member.oh_id, batch.size, member.home))
                else:
                    # The run ended meanwhile; it asks for a dispatch on its way out.
                    self.quota.give_back(batch)
                continue
            if member.queued is not None:
                lapsed = tickets.renew(self.client, member.pk, member.queued, batch)
                if lapsed is None:
                    # Its run claimed the ticket meanwhile, with the batch it held.
                    self.quota.give_back(batch)
                    continue
                # The lapsed batch never reached Moves: it goes back to its hour.
                self.quota.give_back(lapsed)
                report.sent.append(Allotment(member.pk, member.oh_id, batch.size, member.queued.home))
                continue
            home = homes.home_for(member.home)
            ticket = tickets.issue(self.client, member.pk, batch, home, self.quota)
            runs.append((member.oh_id, ticket.as_task_argument(), machines.queue_of(home)))
            report.sent.append(Allotment(member.pk, member.oh_id, batch.size, home))
        return runs

    def _without_lost_runs(self, waiting: list[Waiting], homes: machines.Homes) -> list[Waiting]:
        """Withdraw the tickets of runs that will never use them; their members get new runs.

        Such a run died after taking its ticket, or is queued on a machine
        that has stopped. Its batch goes back, so this window can hand it
        out again. A run that claimed its ticket meanwhile is alive: its
        member is left out of this round.
        """
        kept = []
        for member in waiting:
            queued = member.queued
            machine_gone = queued is not None and bool(queued.home) and queued.home not in homes.alive
            if queued is not None and (member.run_died or machine_gone):
                withdrawn = tickets.claim(self.client, member.pk, queued.id)
                if withdrawn is None:
                    continue
                self.quota.give_back(withdrawn)
                member.queued, member.run_died = None, False
            kept.append(member)
        return kept

    def serves_next(self, pk: int) -> bool:
        """Would this window or the next give member ``pk``'s backfill, whose run is live, a batch?

        Only a backfill is worth a run that waits: first batches, updates and
        sweeps are short, and many of them come at once, so runs waiting for
        them would hold the worker processes their own runs need.
        """
        # This minute's room, when the run used its batch up as the minute turned.
        capacity = max(self.quota.free(), self.quota.free_next_minute())
        if capacity <= 0:
            return False
        waiting = self._waiting(also=(pk,))
        if not any(member.pk == pk and member.priority == Priority.BACKFILL for member in waiting):
            return False
        return any(member.pk == pk for member, _ in plan_batches(waiting, capacity))

    def _waiting(self, also: tuple[int, ...] = ()) -> list[Waiting]:
        """Members waiting for quota in the order it goes out.

        Runs waiting for their member's next batch are included, and so are
        members whose run holds a ticket, and the members ``also`` names (a
        live run asking whether to wait).
        """
        fields = (
            "pk",
            "member__oh_id",
            "sync_priority",
            "requests_wanted",
            "worker_home",
            "sync_wanted_since",
        )
        # Read before the leases: a ticket taken by a run that then holds no
        # lease is one whose run died, or that was claimed meanwhile (and
        # withdrawing it finds it gone).
        queued = tickets.every_ticket(self.client)
        rows = list(
            MovesMember.objects.waiting(timezone.now()).values_list(*fields)[:MAX_MEMBERS_PER_DISPATCH]
        )
        without_lease = {row[0] for row in rows}
        live = set(handoff.live_members(self.client))
        # A run preparing under the lease still holds its ticket, lapsed perhaps.
        extra = live | set(also) | set(queued)
        if extra:
            rows += [
                row
                for row in MovesMember.objects.syncable()
                .filter(pk__in=extra, sync_wanted_since__isnull=False)
                .values_list(*fields)
                if row[0] not in without_lease
            ]
            rows.sort(key=lambda row: (row[2], row[5], row[0]))
        if not rows:
            return []
        minute = self.quota.certain_minute()
        waiting = []
        for row in rows:
            ticket = queued.get(row[0])
            died = ticket is not None and ticket.started and row[0] in without_lease
            if ticket is not None and not ticket.lapsed(minute) and not died:
                # Its run is queued, or preparing, with a batch of this window.
                continue
            waiting.append(
                Waiting(
                    row[0], row[1], row[2], row[3], row[4], live=row[0] in live, queued=ticket, run_died=died
                )
            )
        return waiting


def dispatch_now() -> DispatchReport:
    started_at = time.perf_counter()
    report = Dispatcher().dispatch()
    log.debug("dispatch took %.3f s", time.perf_counter() - started_at)
    return report
