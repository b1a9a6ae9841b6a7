"""What the stand-in servers remember between requests.

Synthetic Moves days are never stored: they are generated from the user's
seed on every request (see ``sandbox.synthetic``); only what changes a
history after the fact is kept (the current time zone, uploads, edits,
renames). Tokens are kept in plain text on purpose: this is a local test
double and tests need to read them.
"""

import secrets
import uuid

from django.db import models
from django.utils import timezone


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class AuthCode(models.Model):
    code = models.CharField(max_length=64, unique=True, default=new_secret)
    client_id = models.CharField(max_length=200)
    redirect_uri = models.TextField(blank=True)
    scope = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Token(models.Model):
    access_token = models.CharField(max_length=64, unique=True, default=new_secret)
    refresh_token = models.CharField(max_length=64, unique=True, default=new_secret)
    client_id = models.CharField(max_length=200)
    scope = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    # None: the refresh token never expires (only rotation retires it).
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when the token was rotated by a refresh or revoked; both halves die.
    revoked_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def seconds_left(self) -> int:
        return max(0, int((self.expires_at - timezone.now()).total_seconds()))


class SandboxMovesUser(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # Real ids went past 2**53 (a notification receiver's tests show 38469648949403944).
    moves_id = models.BigIntegerField("Moves user id", unique=True)
    # Where the person lives: places and routines. Independent of time_zone.
    city = models.CharField(max_length=32)
    # The profile's currentTimeZone; the API cuts every day by it.
    time_zone = models.CharField(max_length=64)
    # None for an account that has recorded nothing yet: no firstDate, no days.
    first_date = models.DateField(null=True, blank=True)
    # The last day with data; None keeps the history growing with the clock.
    last_date = models.DateField(null=True, blank=True)
    # While set, the phone has uploaded nothing since this moment.
    offline_since = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sandbox Moves user"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.moves_id})"


class MovesAuthCode(AuthCode):
    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="codes")

    def __str__(self) -> str:
        return f"Moves code for {self.user_id}"


class MovesToken(Token):
    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="tokens")

    def __str__(self) -> str:
        return f"Moves token {self.pk} for {self.user_id}"


class StorylineUpload(models.Model):
    """At ``uploaded_at`` the phone uploaded what it recorded since ``since`` (a late sync, an added day)."""

    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="uploads")
    since = models.DateTimeField()
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"upload of {self.user_id} at {self.uploaded_at:%Y-%m-%d %H:%M}"


class ActivityEdit(models.Model):
    """The person changed one activity by hand; ``segment`` and ``index`` name it in the raw storyline."""

    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="edits")
    # The ordinal of the city-local day the activity was generated for, and its place in that day.
    day_ordinal = models.IntegerField()
    segment = models.PositiveIntegerField()
    index = models.PositiveIntegerField()
    activity = models.CharField(max_length=40)
    edited_at = models.DateTimeField()

    class Meta:
        ordering = ["edited_at", "id"]

    def __str__(self) -> str:
        return f"{self.activity} ({self.day_ordinal}/{self.segment}/{self.index})"


class PlaceRename(models.Model):
    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="renames")
    place_id = models.BigIntegerField()
    name = models.CharField(max_length=100)
    renamed_at = models.DateTimeField()

    class Meta:
        ordering = ["renamed_at", "id"]

    def __str__(self) -> str:
        return f"{self.place_id} named {self.name}"


class StorylineUpdate(models.Model):
    """One entry of ``storylineUpdates``, waiting to be sent (batched per user) to the app's callback."""

    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="updates")
    payload = models.JSONField()
    created = models.DateTimeField(default=timezone.now)
    # Set once the update went into a POST (or was discarded); batch names that POST.
    handled_at = models.DateTimeField(null=True, blank=True)
    batch = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payload.get('reason')} for {self.user_id}"


class SandboxOHMember(models.Model):
    project_member_id = models.CharField(max_length=8, unique=True)
    username = models.CharField(max_length=150, unique=True)
    share_username = models.BooleanField(default=True)
    # The member shared another project's data (source direct-sharing-128) with ours.
    shares_other_source = models.BooleanField(default=False)
    # False once the member left the project (their tokens are revoked then).
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sandbox Open Humans member"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.username} ({self.project_member_id})"


class OHAuthCode(AuthCode):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="codes")

    def __str__(self) -> str:
        return f"Open Humans code for {self.member_id}"


class OHToken(Token):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="tokens")

    def __str__(self) -> str:
        return f"Open Humans token {self.pk} for {self.member_id}"


def new_storage_key() -> str:
    return f"member-files/unsorted/{uuid.uuid1()}/file"


class SandboxFile(models.Model):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="files")
    basename = models.CharField(max_length=255)
    # Where the bytes live in the stand-in storage, like the real S3 key:
    # member-files/<source>/<uuid>/<basename>.
    key = models.CharField(max_length=512, unique=True, default=new_storage_key)
    metadata = models.JSONField(default=dict)
    datatypes = models.JSONField(default=list)
    source = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    upload_expires = models.DateTimeField()
    # Bytes received by the storage PUT; None until the first PUT arrives.
    received_size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, default="binary/octet-stream")
    content_disposition = models.CharField(max_length=500, blank=True)
    etag = models.CharField(max_length=64, blank=True)
    # Set by upload/complete: only completed files are listed and downloadable.
    completed_at = models.DateTimeField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox file"
        ordering = ["source", "id"]

    def __str__(self) -> str:
        return f"{self.basename} #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        if self.key.startswith("member-files/unsorted/"):
            self.key = f"member-files/{self.source}/{uuid.uuid1()}/{self.basename}"
        super().save(*args, **kwargs)


class DownloadKey(models.Model):
    """A one-hour key of a ``download_url``, as Open Humans' DataFileKey."""

    key = models.UUIDField(primary_key=True, default=uuid.uuid4)
    file = models.ForeignKey(SandboxFile, on_delete=models.CASCADE, related_name="download_keys")
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"key of file {self.file_id}"


class SandboxMessage(models.Model):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="messages")
    subject = models.CharField(max_length=500, blank=True)
    message = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.subject


class Deauthorization(models.Model):
    """A member left the project; the webhook to the app is still to be sent."""

    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="deauthorizations")
    erasure_requested = models.BooleanField()
    left_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.member_id} left at {self.left_at:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    """One POST the stand-ins made (or chose not to make) to the app."""

    class Kind(models.TextChoices):
        MOVES_NOTIFICATION = "moves-notification"
        OH_DEAUTHORIZATION = "oh-deauthorization"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    url = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    # None when nothing answered (timeout, refused connection) or nothing was sent.
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why it failed or was not sent ("dropped", "timeout", ...); empty on success.
    outcome = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.url}: {self.status or self.outcome}"


class Switches(models.Model):
    """Counters the control page sets; one row (pk 1)."""

    drop_notifications = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return "sandbox switches"

    @classmethod
    def get(cls) -> "Switches":
        return cls.objects.get_or_create(pk=1)[0]


class Fault(models.Model):
    class Endpoint(models.TextChoices):
        MOVES_AUTHORIZE = "moves.authorize"
        MOVES_TOKEN = "moves.token"  # noqa: S105 - an endpoint name
        MOVES_TOKENINFO = "moves.tokeninfo"
        MOVES_PROFILE = "moves.profile"
        MOVES_STORYLINE = "moves.storyline"
        MOVES_DAILY = "moves.daily"
        OH_AUTHORIZE = "oh.authorize"
        OH_TOKEN = "oh.token"  # noqa: S105 - an endpoint name
        OH_PROJECT = "oh.project"
        OH_EXCHANGE_MEMBER = "oh.exchange_member"
        OH_UPLOAD_DIRECT = "oh.upload_direct"
        OH_STORAGE_PUT = "oh.storage_put"
        OH_UPLOAD_COMPLETE = "oh.upload_complete"
        OH_DELETE = "oh.delete"
        OH_DATAFILE_DOWNLOAD = "oh.datafile_download"
        OH_DOWNLOAD = "oh.download"
        OH_MESSAGE = "oh.message"

    endpoint = models.CharField(max_length=40, choices=Endpoint.choices)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    delay = models.FloatField(default=0)
    malformed = models.BooleanField(default=False)
    # Instead of the real body: JSON nested deeper than any parser goes, or a
    # valid JSON list of this many bytes (an answer too large to hold).
    nested = models.BooleanField(default=False)
    oversized = models.PositiveIntegerField(null=True, blank=True)
    # A Retry-After header on the answer, exactly as given (a number, a date or garbage).
    retry_after = models.CharField(max_length=100, blank=True)
    remaining = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.describe()} x{self.remaining}"

    def describe(self) -> str:
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        if self.status:
            parts.append(f"status {self.status}")
        if self.malformed:
            parts.append("malformed JSON")
        if self.nested:
            parts.append("JSON nested too deep")
        if self.oversized:
            parts.append(f"a JSON list of {self.oversized} bytes")
        if self.retry_after:
            parts.append(f"Retry-After: {self.retry_after}")
        return ", ".join(parts) or "no effect"
