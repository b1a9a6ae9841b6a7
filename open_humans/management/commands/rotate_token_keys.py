"""Re-encrypt every stored token with the newest key of TOKEN_ENCRYPTION_KEYS.

Run after putting a new key first; once it reports nothing left on old keys,
the old keys can be dropped from the setting.
"""

from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from open_humans.fields import EncryptedTextField, token_fernet


@dataclass
class Tally:
    checked: int = 0
    current: int = 0
    rotated: int = 0
    unreadable: int = 0


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def _raw_values(model: type[models.Model], field: EncryptedTextField) -> list[tuple[Any, str]]:
    # The ciphertext as stored: the ORM would hand back decrypted values.
    quote = connection.ops.quote_name
    table, pk_column = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk_column}, {quote(str(field.column))} FROM {table}")  # noqa: S608 - names from model meta
        return [(pk, value) for pk, value in cursor.fetchall() if value]


class Command(BaseCommand):
    help = "Re-encrypt every stored token with the newest key in TOKEN_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        newest = Fernet(settings.TOKEN_ENCRYPTION_KEYS[0].encode())
        every_key = token_fernet()
        tally = Tally()
        unreadable: list[str] = []
        with transaction.atomic():
            for model, field in encrypted_fields():
                for pk, ciphertext in _raw_values(model, field):
                    tally.checked += 1
                    try:
                        newest.decrypt(ciphertext.encode())
                        tally.current += 1
                        continue
                    except InvalidToken:
                        pass
                    try:
                        plaintext = every_key.decrypt(ciphertext.encode()).decode()
                    except InvalidToken:
                        tally.unreadable += 1
                        unreadable.append(f"{model._meta.label}.{field.name} pk={pk}")
                        continue
                    tally.rotated += 1
                    if not dry_run:
                        # update() runs the field's get_prep_value, which encrypts with the newest key.
                        model._default_manager.filter(pk=pk).update(**{field.name: plaintext})
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            f"Checked {tally.checked} tokens: {verb} {tally.rotated}, {tally.current} already on the newest "
            f"key, {tally.unreadable} unreadable."
        )
        if unreadable:
            raise CommandError("No configured key decrypts: " + ", ".join(unreadable))
