"""The Moves member: their connection, where their sync stands, and small summaries of their days.

``MovesMember`` is the member's state in one place. Every change of
``status`` and of the sync queue's fields happens in a method of this module,
as a single conditional UPDATE, so a page, a command, a webhook and a worker
acting at the same moment cannot overwrite each other's writes, and a run
whose lease has passed to another worker changes nothing.

The sync queue lives in these rows too: a member "wants a sync" from
``sync_wanted_since`` (first come, first served within a priority), is not
to be given quota before ``not_before`` (the retry policy's backoff), and is
"running" while a worker holds an unexpired lease. The dispatcher reads this
queue (``MovesMember.objects.waiting()``); nothing waits in a worker.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from apiclients.errors import MOVES
from apiclients.moves import MovesClient
from apiclients.oauth import TokenGrant
from core import retry
from open_humans.models import OpenHumansMember
from open_humans.tokens import OAuthTokens


class Priority(models.IntegerChoices):
    """Who gets the Moves quota first when it is short."""

    UPDATE = 0, "update of a current member"
    FIRST = 1, "first batch of a new member"
    BACKFILL = 2, "history backfill"
    SWEEP = 3, "weekly sweep for late changes"


# The first batch of a new member: profile, current and previous week.
FIRST_BATCH_REQUESTS = 3


class MovesMemberQuerySet(models.QuerySet["MovesMember"]):
    def syncable(self) -> MovesMemberQuerySet:
        """Members who can be synced at all: both connections alive and usable.

        The one definition used by the dispatcher, ``update_data``, the
        dashboard and the admin.
        """
        return (
            self.exclude(refresh_token="")
            .filter(
                ~Q(status=MovesMember.Status.NEEDS_RECONNECT),
                member__needs_reconnect=False,
            )
            .exclude(member__refresh_token="")
        )

    def waiting(self, now: datetime | None = None) -> MovesMemberQuerySet:
        """Syncable members that want a sync now and have no live run, in the order quota goes out."""
        now = now or timezone.now()
        return (
            self.syncable()
            .filter(sync_wanted_since__isnull=False)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .order_by("sync_priority", "sync_wanted_since", "pk")
        )

    def running(self, now: datetime | None = None) -> MovesMemberQuerySet:
        return self.filter(lease_until__gte=now or timezone.now())

    def stale(self, now: datetime, stale_after: timedelta) -> MovesMemberQuerySet:
        """Syncable members due a daily update: never updated, or not since ``stale_after``."""
        return self.syncable().filter(Q(last_updated__isnull=True) | Q(last_updated__lt=now - stale_after))

    def start_sweeps(self, now: datetime | None = None) -> int:
        """Start a sweep for older changes of every member in this queryset, in one UPDATE.

        A sweep asks Moves, a month at a time and without track points, which
        days changed since the last sweep (or since the member connected), and
        queues those weeks to be fetched again.
        """
        now = now or timezone.now()
        return self.update(
            sweep_from=F("first_date"),
            sweep_since=Coalesce(F("last_sweep_at"), F("created")),
            sync_wanted_since=Coalesce(F("sync_wanted_since"), models.Value(now)),
            # A member who was not waiting queues the sweep at its own priority (last);
            # the priority left from their last sync must not carry over.
            sync_priority=Case(
                When(sync_wanted_since__isnull=True, then=models.Value(Priority.SWEEP)),
                default=Least(F("sync_priority"), models.Value(Priority.SWEEP)),
                output_field=models.PositiveSmallIntegerField(),
            ),
            requests_wanted=Greatest(F("requests_wanted"), models.Value(1)),
            updated=now,
        )

    def request_updates(self, now: datetime | None = None) -> int:
        """Ask for an update of every member in this queryset, in one UPDATE; returns how many.

        A member already waiting keeps their place in the queue; one who was
        not takes the update's priority.
        """
        now = now or timezone.now()
        return self.update(
            update_requested_at=now,
            sync_wanted_since=Coalesce(F("sync_wanted_since"), models.Value(now)),
            sync_priority=Least(F("sync_priority"), models.Value(Priority.UPDATE)),
            requests_wanted=Greatest(F("requests_wanted"), models.Value(2)),
            updated=now,
        )


class MovesMember(OAuthTokens):
    class Status(models.TextChoices):
        NEW = "new", "Waiting for the first batch"
        BACKFILLING = "backfilling", "Fetching your history"
        CURRENT = "current", "Up to date"
        RETRYING = "retrying", "Trying again soon"
        FAILING = "failing", "Failing"
        NEEDS_RECONNECT = "needs_reconnect", "Needs to reconnect"

    member = models.OneToOneField(OpenHumansMember, on_delete=models.CASCADE, related_name="moves_member")
    moves_id = models.BigIntegerField("Moves user id", null=True, blank=True)

    # From the Moves profile.
    first_date = models.DateField("first day with data (Moves profile)", null=True, blank=True)
    time_zone = models.CharField("current time zone (Moves profile)", max_length=64, blank=True)

    # Where the member stands, in words for them.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    error_service = models.CharField("service that failed", max_length=20, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField("failures in a row", default=0)
    # The member was told through Open Humans that Moves must be reconnected.
    reconnect_notified = models.BooleanField(default=False)

    # The sync queue (see the module docstring).
    sync_wanted_since = models.DateTimeField(null=True, blank=True)
    sync_priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.BACKFILL)
    requests_wanted = models.PositiveIntegerField("Moves requests still wanted (estimate)", default=0)
    not_before = models.DateTimeField("no batch before", null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The worker machine that keeps this member's local history.
    worker_home = models.CharField(max_length=100, blank=True)
    next_batch_at = models.DateTimeField(null=True, blank=True)

    # Progress and updates.
    backfill_next = models.DateField("Monday of the next week of history to fetch", null=True, blank=True)
    weeks_done = models.PositiveIntegerField(default=0)
    weeks_total = models.PositiveIntegerField(default=0)
    # When the data on Open Humans last became complete up to the current week.
    last_updated = models.DateTimeField(null=True, blank=True)
    # An update of the recent weeks is wanted since then (daily, manual, notified).
    update_requested_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField("last storyline notification", null=True, blank=True)
    last_sweep_at = models.DateTimeField(null=True, blank=True)
    # A sweep in progress: the next day it checks, and the changes it looks for (since when).
    sweep_from = models.DateField(null=True, blank=True)
    sweep_since = models.DateTimeField(null=True, blank=True)
    # When the member last asked for a manual update (the hourly throttle).
    last_submitted = models.DateTimeField(null=True, blank=True)

    # What the file on Open Humans holds.
    file_id = models.BigIntegerField("Open Humans file id", null=True, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    # Named by Open Humans for an upload whose end was not recorded yet.
    pending_file_id = models.BigIntegerField(null=True, blank=True)
    # The file a newer upload replaced, until its delete is confirmed.
    obsolete_file_id = models.BigIntegerField(null=True, blank=True)
    days_held = models.PositiveIntegerField(default=0)
    first_day_held = models.DateField(null=True, blank=True)
    last_day_held = models.DateField(null=True, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = MovesMemberQuerySet.as_manager()

    class Meta:
        verbose_name = "Moves member"
        indexes = [
            models.Index(fields=["last_updated"], name="moves_last_updated_idx"),
            models.Index(fields=["sync_priority", "sync_wanted_since"], name="moves_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"Moves member of {self.member.oh_id}"

    # --- Tokens -------------------------------------------------------------------

    def token_client(self) -> MovesClient:
        return MovesClient()

    def token_service(self) -> str:
        return MOVES

    # --- Reading ------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self.has_tokens and self.status != self.Status.NEEDS_RECONNECT

    @property
    def is_running(self) -> bool:
        return self.lease_until is not None and self.lease_until >= timezone.now()

    @property
    def is_queued(self) -> bool:
        return self.sync_wanted_since is not None

    @property
    def wants_update(self) -> bool:
        return self.update_requested_at is not None

    def next_manual_update_at(self) -> datetime | None:
        """When the member may ask for a manual update again, or None if now."""
        if self.last_submitted is None:
            return None
        allowed_at = self.last_submitted + timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS)
        return allowed_at if allowed_at > timezone.now() else None

    def next_try_at(self) -> datetime | None:
        """When a retrying or failing member is tried again by itself."""
        if self.status in (self.Status.RETRYING, self.Status.FAILING):
            return self.not_before
        return None

    # --- Transitions: connection --------------------------------------------------

    @classmethod
    def connect(cls, oh_member: OpenHumansMember, grant: TokenGrant) -> MovesMember:
        """Store a completed Moves connection and queue the member's first batch.

        Raises ``DifferentMovesAccount``, storing nothing, when the approved
        account is not the one whose history the member already holds: two
        people's days must never end up in one file.
        """
        # The row lock is held to the end of this transaction: two callbacks
        # of one member cannot interleave, whatever transaction the caller has.
        with transaction.atomic():
            moves, _ = cls.objects.select_for_update().get_or_create(member=oh_member)
            held = moves.moves_id
            if held is not None and grant.user_id is not None and held != grant.user_id:
                raise DifferentMovesAccount(held)
            moves.set_tokens(grant)
            if grant.user_id is not None:
                moves.moves_id = grant.user_id
            fresh = moves.file_id is None and moves.backfill_next is None
            complete = not fresh and moves.weeks_total > 0 and moves.weeks_done >= moves.weeks_total
            moves.status = (
                cls.Status.NEW if fresh else cls.Status.CURRENT if complete else cls.Status.BACKFILLING
            )
            moves.error_service = ""
            moves.last_error = ""
            moves.last_error_at = None
            moves.failures = 0
            moves.reconnect_notified = False
            moves.not_before = None
            moves.next_batch_at = None
            moves.sync_wanted_since = moves.sync_wanted_since or timezone.now()
            moves.sync_priority = (
                Priority.FIRST if fresh else Priority.UPDATE if complete else Priority.BACKFILL
            )
            moves.requests_wanted = max(moves.requests_wanted, FIRST_BATCH_REQUESTS)
            moves.update_requested_at = timezone.now()
            moves.save()
        return moves

    def require_reconnect(self, service: str, message: str, lease: str | None = None) -> bool:
        """Moves (or the member's Open Humans access) refused our token: stop until they reconnect."""
        return self._write(
            lease,
            status=self.Status.NEEDS_RECONNECT,
            error_service=service,
            last_error=message,
            last_error_at=timezone.now(),
            sync_wanted_since=None,
            not_before=None,
            next_batch_at=None,
        )

    def told_to_reconnect(self) -> None:
        self._write(None, reconnect_notified=True)

    def forget_tokens(self, message: str) -> None:
        """The member left the project: drop the Moves tokens too (nothing can be uploaded any more)."""
        type(self).objects.filter(pk=self.pk).update(
            access_token="",
            refresh_token="",
            token_expires=None,
            status=self.Status.NEEDS_RECONNECT,
            error_service="Open Humans",
            last_error=message,
            last_error_at=timezone.now(),
            sync_wanted_since=None,
            next_batch_at=None,
            # Their Open Humans token is revoked: there is no way left to message them.
            reconnect_notified=True,
            updated=timezone.now(),
        )

    # --- Transitions: the queue ---------------------------------------------------

    def claim_manual_update(self) -> bool:
        """Record a manual update if the member may have one now and none is queued or running.

        One conditional UPDATE: two tabs, a double click or a replayed request
        cannot both pass, and a press that is refused spends nothing.
        """
        now = timezone.now()
        cutoff = now - timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS)
        claimed = (
            type(self)
            .objects.syncable()
            .filter(pk=self.pk, sync_wanted_since__isnull=True)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .filter(Q(last_submitted__isnull=True) | Q(last_submitted__lt=cutoff))
            .update(
                last_submitted=now,
                update_requested_at=now,
                sync_wanted_since=now,
                sync_priority=Priority.UPDATE,
                requests_wanted=Greatest(F("requests_wanted"), models.Value(2)),
                not_before=None,
                updated=now,
            )
        )
        if claimed:
            self.refresh_from_db()
        return claimed == 1

    def retry_now(self) -> bool:
        """A failing member asked to try again at once (same throttle as a manual update)."""
        now = timezone.now()
        cutoff = now - timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS)
        claimed = (
            type(self)
            .objects.syncable()
            .filter(pk=self.pk, status__in=[self.Status.RETRYING, self.Status.FAILING])
            .filter(Q(last_submitted__isnull=True) | Q(last_submitted__lt=cutoff))
            .update(
                last_submitted=now,
                not_before=None,
                sync_wanted_since=Coalesce(F("sync_wanted_since"), models.Value(now)),
                updated=now,
            )
        )
        if claimed:
            self.refresh_from_db()
        return claimed == 1

    def notified(self, weeks: int) -> None:
        """Moves told us about changes in ``weeks`` weeks of this member's storyline (recorded elsewhere)."""
        now = timezone.now()
        type(self).objects.filter(pk=self.pk).update(
            last_notified_at=now,
            sync_wanted_since=Coalesce(F("sync_wanted_since"), models.Value(now)),
            sync_priority=Least(F("sync_priority"), models.Value(Priority.UPDATE)),
            requests_wanted=F("requests_wanted") + weeks,
            updated=now,
        )

    def sweep_progress(self, lease: str, next_from: date | None, started: datetime) -> bool:
        """A sweep checked up to ``next_from`` (None: to today, and it is done)."""
        if next_from is None:
            return self._write(lease, sweep_from=None, sweep_since=None, last_sweep_at=started)
        return self._write(lease, sweep_from=next_from)

    def claim_lease(self, seconds: float, home: str) -> str | None:
        """Take the member for one run; returns the lease token, or None if another run holds it."""
        token = secrets.token_hex(16)
        now = timezone.now()
        claimed = (
            type(self)
            .objects.filter(pk=self.pk)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(
                lease_token=token,
                lease_until=now + timedelta(seconds=seconds),
                worker_home=home,
                updated=now,
            )
        )
        if not claimed:
            return None
        self.lease_token, self.worker_home = token, home
        return token

    def extend_lease(self, lease: str, seconds: float) -> bool:
        until = timezone.now() + timedelta(seconds=seconds)
        return type(self).objects.filter(pk=self.pk, lease_token=lease).update(lease_until=until) == 1

    def release_lease(self, lease: str) -> None:
        type(self).objects.filter(pk=self.pk, lease_token=lease).update(lease_until=None, lease_token="")

    # --- Transitions: a run's outcome ------------------------------------------------

    def saw_profile(self, lease: str, first_date: date | None, time_zone: str | None) -> bool:
        return self._write(lease, first_date=first_date, time_zone=time_zone or "")

    def record_progress(
        self,
        lease: str,
        *,
        backfill_next: date | None,
        weeks_done: int,
        weeks_total: int,
        requests_wanted: int,
        backfill_done: bool,
    ) -> bool:
        """Weeks were fetched: a member with history left is backfilling, and stays queued for it."""
        fields: dict[str, Any] = {
            "backfill_next": backfill_next,
            "weeks_done": weeks_done,
            "weeks_total": weeks_total,
            "requests_wanted": requests_wanted,
            "failures": 0,
            "not_before": None,
        }
        if not backfill_done:
            fields["status"] = self.Status.BACKFILLING
            fields["sync_priority"] = Priority.BACKFILL
        return self._write(lease, **fields)

    def waiting_for_quota(self, lease: str, until: datetime) -> bool:
        """The run stopped because the quota ran out; the member stays queued for the next window."""
        return self._write(lease, next_batch_at=until)

    def recheck_recent_weeks(self, lease: str, as_of: datetime) -> bool:
        """The backfill reached the weeks fetched first: the current and previous week are due again.

        Asked as of ``as_of`` (the run's start), so that the run fetching
        them in the same breath clears the request, and weeks it fetched
        itself since then are not fetched twice.
        """
        if self.update_requested_at is not None:
            return True
        return self._write(lease, update_requested_at=as_of)

    def finish_sync(
        self,
        lease: str,
        started: datetime,
        *,
        recent_fetched: bool,
        complete: bool,
        completed_now: bool = False,
        more_wanted: int,
    ) -> bool:
        """The run did all it set out to do (or what the quota allowed).

        ``recent_fetched``: this run fetched every week an update re-checks
        (the previous and current week, and every week since the last
        success), so an update asked for before ``started`` is done.
        ``complete``: the history is fetched from the first day on. Both
        together make the member current as of ``started``; a history
        completed by this run (``completed_now``) without the recent weeks
        asks for them next. The member
        leaves the queue only when nothing more is wanted: no backfill, no
        update asked for meanwhile, no notified week waiting.
        """
        fields: dict[str, Any] = {
            "failures": 0,
            "not_before": None,
            "error_service": "",
            "last_error": "",
            "requests_wanted": more_wanted,
        }
        if recent_fetched and complete:
            fields["status"] = self.Status.CURRENT
            fields["last_updated"] = started
            fields["next_batch_at"] = None
        done = self._write(lease, **fields)
        query = type(self).objects.filter(pk=self.pk, lease_token=lease)
        if recent_fetched:
            query.filter(update_requested_at__lte=started).update(update_requested_at=None)
        elif completed_now:
            query.filter(update_requested_at__isnull=True).update(
                update_requested_at=timezone.now(), sync_priority=Priority.UPDATE
            )
        # An update still wanted costs the previous and the current week at least
        # (as claim_manual_update and request_updates count it): given batches of
        # one request, every run would fetch the current week again and never finish.
        query.filter(update_requested_at__isnull=False).update(
            requests_wanted=Greatest(F("requests_wanted"), models.Value(2))
        )
        if more_wanted <= 0:
            query.filter(update_requested_at__isnull=True).filter(
                ~models.Exists(PendingWeek.objects.filter(moves_member=models.OuterRef("pk")))
            ).update(sync_wanted_since=None, requests_wanted=0)
        return done

    def record_failure(
        self, lease: str | None, service: str, message: str, *, permanent: bool = False
    ) -> bool:
        """A run failed: say so in plain words and set the next try by the retry policy."""
        failures = self.failures + 1
        planned = retry.next_try(failures, permanent)
        now = timezone.now()
        return self._write(
            lease,
            status=self.Status.FAILING if planned.exhausted else self.Status.RETRYING,
            failures=failures,
            error_service=service,
            last_error=message,
            last_error_at=now,
            not_before=now + planned.after,
            sync_wanted_since=self.sync_wanted_since or now,
        )

    def mark_failing(self, service: str, message: str) -> bool:
        """An operator or a check found the member cannot be synced as things stand."""
        return self.record_failure(None, service, message, permanent=True)

    # --- Transitions: the file ------------------------------------------------------

    def record_pending_upload(self, lease: str, file_id: int) -> bool:
        return self._write(lease, pending_file_id=file_id)

    def record_upload(
        self,
        lease: str,
        *,
        file_id: int,
        size: int,
        sha256: str,
        days: int,
        first_day: date | None,
        last_day: date | None,
    ) -> bool:
        """A new file is complete on Open Humans; the one it replaces is remembered until deleted."""
        replaced = self.file_id if self.file_id not in (None, file_id) else self.obsolete_file_id
        return self._write(
            lease,
            file_id=file_id,
            file_size=size,
            file_sha256=sha256,
            uploaded_at=timezone.now(),
            pending_file_id=None,
            obsolete_file_id=replaced,
            days_held=days,
            first_day_held=first_day,
            last_day_held=last_day,
        )

    def forget_obsolete_file(self, lease: str) -> bool:
        """The replaced file is deleted from Open Humans (or was gone already)."""
        return self._write(lease, obsolete_file_id=None)

    def record_file(self, lease: str, file_id: int | None, sha256: str = "") -> bool:
        """Which file on Open Humans is the member's, as found there (none, or one kept from before)."""
        return self._write(lease, file_id=file_id, file_sha256=sha256, pending_file_id=None)

    # --- Internals ---------------------------------------------------------------

    def _write(self, lease: str | None, **fields: Any) -> bool:
        """Write ``fields`` with one UPDATE (under ``lease`` when given); False when nothing matched.

        An UPDATE, not ``save()``: saving a row that a disconnect deleted
        meanwhile would insert it again, tokens and all.
        """
        query = type(self).objects.filter(pk=self.pk)
        if lease is not None:
            query = query.filter(lease_token=lease)
        written = query.update(**fields, updated=timezone.now()) == 1
        if written:
            for name, value in fields.items():
                setattr(self, name, value)
        return written


class DifferentMovesAccount(Exception):
    """The member approved a Moves account other than the one whose history they already hold."""

    def __init__(self, held_moves_id: int) -> None:
        self.held_moves_id = held_moves_id
        super().__init__(f"already holding the history of Moves user {held_moves_id}")


class PendingWeek(models.Model):
    """A week of a member's storyline that Moves said changed, not fetched again yet."""

    moves_member = models.ForeignKey(MovesMember, on_delete=models.CASCADE, related_name="pending_weeks")
    monday = models.DateField()
    noticed = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["moves_member", "monday"], name="pending_week_unique")]
        ordering = ["monday"]

    def __str__(self) -> str:
        return f"week of {self.monday} of {self.moves_member_id}"


class RecentDay(models.Model):
    """A compact copy of one recent day, kept for the dashboard's map.

    The full history lives on Open Humans; the dashboard reads these rows
    so that rendering never waits on an upstream.
    """

    moves_member = models.ForeignKey(MovesMember, on_delete=models.CASCADE, related_name="recent_days")
    date = models.DateField()
    # False for a day Moves answered with no summary and no segments: the
    # calendar calls it "no data", and so must the day's own summary.
    recorded = models.BooleanField(default=True)
    steps = models.PositiveIntegerField(default=0)
    distance_m = models.FloatField(default=0)
    # Places as [{"name", "lat", "lon", "start", "end"}] and track points as
    # [[lat, lon], ...] per move: enough to draw the day on a map.
    places = models.JSONField(default=list)
    tracks = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["moves_member", "date"], name="recent_day_unique")]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} of {self.moves_member_id}"


class DayYear(models.Model):
    """One calendar year of a member's days, packed: what is held, the steps, where it sits in the file.

    ``days`` holds 13 bytes per day of the year (``core.days.DAY_RECORD``):
    whether the day was fetched and has data, its steps, and its byte offset
    and length in the uploaded file, so the page can show a calendar of the
    whole history and fetch one day from Open Humans by byte range.
    """

    moves_member = models.ForeignKey(MovesMember, on_delete=models.CASCADE, related_name="day_years")
    year = models.PositiveSmallIntegerField()
    days = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["moves_member", "year"], name="day_year_unique")]
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year} of {self.moves_member_id}"


class WebhookDelivery(models.Model):
    """A webhook delivery already acted on, so that a replay of it is recognised and ignored."""

    kind = models.CharField(max_length=20)
    digest = models.CharField(max_length=64)
    received = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "digest"], name="webhook_delivery_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.digest[:12]}"
