"""The Moves connection of a member, its sync state, and a small preview of recent days."""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from open_humans.fields import EncryptedTextField
from open_humans.models import TOKEN_REFRESH_MARGIN, OpenHumansMember


class MovesMember(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Waiting for the first update"
        BACKFILLING = "backfilling", "Backfilling history"
        CURRENT = "current", "Up to date"
        NEEDS_RECONNECT = "needs_reconnect", "Needs to reconnect"
        FAILING = "failing", "Failing"

    member = models.OneToOneField(OpenHumansMember, on_delete=models.CASCADE, related_name="moves_member")
    moves_id = models.BigIntegerField("Moves user id", null=True, blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires = models.DateTimeField(null=True, blank=True)

    # When the data on Open Humans last became complete up to the current week.
    last_updated = models.DateTimeField(null=True, blank=True)
    # When the member last asked for a manual update (the hourly throttle).
    last_submitted = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The member was told through Open Humans that Moves must be reconnected.
    reconnect_notified = models.BooleanField(default=False)

    # Backfill progress, for the dashboard and admin.
    weeks_done = models.PositiveIntegerField(default=0)
    weeks_total = models.PositiveIntegerField(default=0)
    next_batch_at = models.DateTimeField(null=True, blank=True)

    # What the file on Open Humans holds.
    first_date = models.DateField("first day with data (Moves profile)", null=True, blank=True)
    last_day_held = models.DateField(null=True, blank=True)
    days_held = models.PositiveIntegerField(default=0)
    file_id = models.BigIntegerField("Open Humans file id", null=True, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Moves member"
        indexes = [models.Index(fields=["last_updated"], name="moves_last_updated_idx")]

    def __str__(self) -> str:
        return f"Moves member of {self.member.oh_id}"

    @property
    def is_connected(self) -> bool:
        return bool(self.refresh_token) and self.status != self.Status.NEEDS_RECONNECT

    def store_tokens(self, access_token: str, refresh_token: str, expires_in: int) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.token_expires = timezone.now() + timedelta(seconds=expires_in)

    def token_is_fresh(self) -> bool:
        return self.token_expires is not None and self.token_expires - timezone.now() > TOKEN_REFRESH_MARGIN

    def get_access_token(self) -> str:
        """Return a usable Moves access token, refreshing it when it is about to expire.

        Moves retires the old refresh token on refresh; the row lock keeps two
        workers from both spending it. Raises ``apiclients.errors.InvalidGrant``
        when Moves refuses the refresh token.
        """
        if self.token_is_fresh():
            return self.access_token
        from apiclients.moves import MovesClient

        with transaction.atomic():
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            if not locked.token_is_fresh():
                grant = MovesClient().refresh(locked.refresh_token)
                locked.store_tokens(grant.access_token, grant.refresh_token, grant.expires_in)
                locked.save(update_fields=["access_token", "refresh_token", "token_expires", "updated"])
        self.access_token = locked.access_token
        self.refresh_token = locked.refresh_token
        self.token_expires = locked.token_expires
        return self.access_token

    def next_manual_update_at(self) -> timezone.datetime | None:
        """When the member may ask for a manual update again, or None if now."""
        if self.last_submitted is None:
            return None
        allowed_at = self.last_submitted + timedelta(seconds=settings.MANUAL_UPDATE_INTERVAL_SECONDS)
        return allowed_at if allowed_at > timezone.now() else None


class RecentDay(models.Model):
    """A compact copy of one recent day, kept for the dashboard's preview.

    The full history lives only on Open Humans; the dashboard reads these rows
    so that rendering never waits on an upstream.
    """

    moves_member = models.ForeignKey(MovesMember, on_delete=models.CASCADE, related_name="recent_days")
    date = models.DateField()
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
