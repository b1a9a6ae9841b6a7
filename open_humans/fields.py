"""A text field whose value is encrypted at rest with Fernet.

Keys come from ``settings.TOKEN_ENCRYPTION_KEYS`` (newest first): the first
key encrypts, every key decrypts, so a new key can be put in front and the
old ones retired once ``manage.py rotate_token_keys`` has re-encrypted rows.
A value that no key can decrypt raises instead of passing ciphertext on as
if it were a token.
"""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"TOKEN_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None


def token_fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.TOKEN_ENCRYPTION_KEYS))


class TokenDecryptionError(Exception):
    """A stored token could not be decrypted with any configured key."""


# The stubs make TextField generic; at run time it is not subscriptable.
class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    description = "Text encrypted at rest with Fernet"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return token_fernet().encrypt(value.encode()).decode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return token_fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            raise TokenDecryptionError(
                f"{self.model.__name__}.{self.name} cannot be decrypted with TOKEN_ENCRYPTION_KEYS"
            ) from None

    @staticmethod
    def rotate(ciphertext: str) -> str:
        """Re-encrypt a stored value with the newest key."""
        return token_fernet().rotate(ciphertext.encode()).decode()
