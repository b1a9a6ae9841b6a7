"""What the stand-in servers remember between requests.

Synthetic Moves days are never stored: they are generated from the user's
seed on every request (see ``sandbox.synthetic``). Tokens are kept in plain
text on purpose: this is a local test double and tests need to read them.
"""

import secrets
from datetime import date

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
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def seconds_left(self) -> int:
        return max(0, int((self.expires_at - timezone.now()).total_seconds()))


class SandboxMovesUser(models.Model):
    name = models.CharField(max_length=100, unique=True)
    moves_id = models.PositiveIntegerField("Moves user id", unique=True)
    # None for an account that has recorded nothing yet: its profile has no
    # firstDate and its storyline holds no days.
    first_date = models.DateField(null=True, blank=True)
    # The last day with data; None keeps the history growing up to today.
    last_date = models.DateField(null=True, blank=True)
    time_zone = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "sandbox Moves user"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.moves_id})"

    def has_data_on(self, day: date) -> bool:
        return self.last_date is None or day <= self.last_date


class MovesAuthCode(AuthCode):
    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="codes")

    def __str__(self) -> str:
        return f"Moves code for {self.user_id}"


class MovesToken(Token):
    user = models.ForeignKey(SandboxMovesUser, on_delete=models.CASCADE, related_name="tokens")

    def __str__(self) -> str:
        return f"Moves token {self.pk} for {self.user_id}"


class SandboxOHMember(models.Model):
    project_member_id = models.CharField(max_length=8, unique=True)
    username = models.CharField(max_length=150, unique=True)
    share_username = models.BooleanField(default=True)
    message_permission = models.BooleanField(default=True)
    # False once the member left the project (their tokens are revoked then).
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

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


class SandboxFile(models.Model):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="files")
    basename = models.CharField(max_length=255)
    metadata = models.JSONField(default=dict)
    datatypes = models.JSONField(default=list)
    source = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    upload_expires = models.DateTimeField()
    # Bytes received by the storage PUT; None until the first PUT arrives.
    received_size = models.BigIntegerField(null=True, blank=True)
    # Set by upload/complete: only completed files are listed and downloadable.
    completed_at = models.DateTimeField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox file"
        ordering = ["source", "id"]

    def __str__(self) -> str:
        return f"{self.basename} #{self.pk}"


class SandboxMessage(models.Model):
    member = models.ForeignKey(SandboxOHMember, on_delete=models.CASCADE, related_name="messages")
    subject = models.CharField(max_length=500)
    message = models.TextField()
    # Open Humans only delivers to members who allowed project messages.
    delivered = models.BooleanField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.subject


class Fault(models.Model):
    class Endpoint(models.TextChoices):
        MOVES_AUTHORIZE = "moves.authorize"
        MOVES_TOKEN = "moves.token"  # noqa: S105 - an endpoint name
        MOVES_TOKENINFO = "moves.tokeninfo"
        MOVES_PROFILE = "moves.profile"
        MOVES_STORYLINE = "moves.storyline"
        OH_AUTHORIZE = "oh.authorize"
        OH_TOKEN = "oh.token"  # noqa: S105 - an endpoint name
        OH_EXCHANGE_MEMBER = "oh.exchange_member"
        OH_UPLOAD_DIRECT = "oh.upload_direct"
        OH_STORAGE_PUT = "oh.storage_put"
        OH_UPLOAD_COMPLETE = "oh.upload_complete"
        OH_DELETE = "oh.delete"
        OH_DOWNLOAD = "oh.download"
        OH_MESSAGE = "oh.message"

    endpoint = models.CharField(max_length=40, choices=Endpoint.choices)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    delay = models.FloatField(default=0)
    malformed = models.BooleanField(default=False)
    remaining = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)

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
        return ", ".join(parts) or "no effect"
