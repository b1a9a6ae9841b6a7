"""The Open Humans member: who signed in, and the tokens to act for them."""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from open_humans.fields import EncryptedTextField

# Refresh a little before expiry so a token never dies mid-request.
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)


class OpenHumansMember(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openhumansmember"
    )
    oh_id = models.CharField("Open Humans member id", max_length=16, unique=True)
    username = models.CharField(max_length=150, blank=True)
    message_permission = models.BooleanField(default=False)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField()
    token_expires = models.DateTimeField()
    # Set when Open Humans refused our refresh token: the member must sign in again.
    needs_reconnect = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Open Humans member"

    def __str__(self) -> str:
        return f"Open Humans member {self.oh_id}"

    def store_tokens(self, access_token: str, refresh_token: str, expires_in: int) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.token_expires = timezone.now() + timedelta(seconds=expires_in)
        self.needs_reconnect = False

    def token_is_fresh(self) -> bool:
        return self.token_expires - timezone.now() > TOKEN_REFRESH_MARGIN

    def get_access_token(self) -> str:
        """Return a usable access token, refreshing it first when it is about to expire.

        Open Humans retires a refresh token when it is used, so two workers
        refreshing at once would leave one holding a dead token; the row lock
        makes the second one see the first one's result instead.
        Raises ``apiclients.errors.InvalidGrant`` (after marking the member)
        when Open Humans refuses the refresh token.
        """
        if self.token_is_fresh():
            return self.access_token
        from apiclients.errors import InvalidGrant
        from apiclients.openhumans import OpenHumansClient

        with transaction.atomic():
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            if not locked.token_is_fresh():
                try:
                    grant = OpenHumansClient().refresh(locked.refresh_token)
                except InvalidGrant:
                    type(self).objects.filter(pk=self.pk).update(needs_reconnect=True)
                    self.needs_reconnect = True
                    raise
                locked.store_tokens(grant.access_token, grant.refresh_token, grant.expires_in)
                locked.save(
                    update_fields=[
                        "access_token",
                        "refresh_token",
                        "token_expires",
                        "needs_reconnect",
                        "updated",
                    ]
                )
        self.access_token = locked.access_token
        self.refresh_token = locked.refresh_token
        self.token_expires = locked.token_expires
        self.needs_reconnect = locked.needs_reconnect
        return self.access_token
