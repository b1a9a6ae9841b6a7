"""OAuth tokens kept at rest, and their refresh, for both upstreams.

Both Moves and Open Humans issue short-lived access tokens with a refresh
token that is retired when it is used. ``OAuthTokens`` keeps the pair
encrypted and refreshes it under a row lock, so two workers refreshing at
once cannot both spend the same refresh token (the second one sees the
first one's result instead).
"""

from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from apiclients.errors import InvalidGrant
from apiclients.oauth import TokenGrant
from open_humans.fields import EncryptedTextField

# Refresh a little before expiry so a token never dies mid-request.
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)
TOKEN_FIELDS = ["access_token", "refresh_token", "token_expires"]


class OAuthTokens(models.Model):
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    # --- Hooks for the concrete model ----------------------------------------------

    def token_client(self) -> Any:
        """The upstream client whose ``refresh`` renews this pair."""
        raise NotImplementedError

    def refresh_refused(self) -> None:
        """Called when the upstream refused our refresh token (after the lock's transaction ended)."""

    # --- Behaviour -------------------------------------------------------------

    @property
    def has_tokens(self) -> bool:
        return bool(self.refresh_token)

    def set_tokens(self, grant: TokenGrant) -> None:
        """Put a new pair on this instance (the caller saves it)."""
        self.access_token = grant.access_token
        self.refresh_token = grant.refresh_token
        self.token_expires = timezone.now() + timedelta(seconds=grant.expires_in)

    def token_is_fresh(self) -> bool:
        return self.token_expires is not None and self.token_expires - timezone.now() > TOKEN_REFRESH_MARGIN

    def usable_access_token(self) -> str:
        """A usable access token, refreshed first when it is about to expire.

        Raises ``apiclients.errors.InvalidGrant`` when the upstream refuses the
        refresh token (after ``refresh_refused`` recorded it), and any other
        ``UpstreamError`` when it could not be asked.
        """
        if self.token_is_fresh():
            return str(self.access_token)
        try:
            with transaction.atomic():
                locked = type(self)._default_manager.select_for_update().get(pk=self.pk)
                if not locked.token_is_fresh():
                    if not locked.refresh_token:
                        raise InvalidGrant(self.token_service(), "no refresh token stored", None)
                    grant = self.token_client().refresh(locked.refresh_token)
                    locked.set_tokens(grant)
                    type(self)._default_manager.filter(pk=self.pk).update(
                        access_token=locked.access_token,
                        refresh_token=locked.refresh_token,
                        token_expires=locked.token_expires,
                    )
        except InvalidGrant:
            # Recorded once the transaction is over: its rollback would undo the record.
            self.refresh_refused()
            raise
        for name in TOKEN_FIELDS:
            setattr(self, name, getattr(locked, name))
        return str(self.access_token)

    def token_service(self) -> str:
        return type(self).__name__
