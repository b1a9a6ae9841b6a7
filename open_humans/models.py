"""The Open Humans member: who signed in, and the tokens to act for them."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apiclients.errors import OPEN_HUMANS
from apiclients.oauth import TokenGrant
from apiclients.openhumans import OpenHumansClient
from open_humans.tokens import OAuthTokens


class OpenHumansMember(OAuthTokens):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openhumansmember"
    )
    oh_id = models.CharField("Open Humans member id", max_length=16, unique=True)
    username = models.CharField(max_length=150, blank=True)
    # Set when Open Humans refused our refresh token or the member left the
    # project: they must sign in again before anything is uploaded.
    needs_reconnect = models.BooleanField(default=False)
    # The last completed sign-in: a deauthorisation sent before it is stale.
    signed_in_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Open Humans member"

    def __str__(self) -> str:
        return f"Open Humans member {self.oh_id}"

    def token_client(self) -> OpenHumansClient:
        return OpenHumansClient()

    def token_service(self) -> str:
        return OPEN_HUMANS

    def refresh_refused(self) -> None:
        type(self).objects.filter(pk=self.pk).update(needs_reconnect=True, updated=timezone.now())
        self.needs_reconnect = True

    def signed_in(self, grant: TokenGrant, username: str) -> None:
        """A completed sign-in: new tokens, and access is good again."""
        self.set_tokens(grant)
        self.username = username
        self.needs_reconnect = False
        self.signed_in_at = timezone.now()
        self.save()

    def access_ended(self) -> None:
        """The member left the project on Open Humans: its tokens are revoked there already."""
        type(self).objects.filter(pk=self.pk).update(
            access_token="",
            refresh_token="",
            token_expires=None,
            needs_reconnect=True,
            updated=timezone.now(),
        )
