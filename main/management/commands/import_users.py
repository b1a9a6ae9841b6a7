"""Import members from a file of ``oh_id,oh_refresh_token,moves_refresh_token`` lines.

For each line: refresh both tokens (each refresh token is spent and replaced),
check with Open Humans that the token belongs to that member, create or update
the user and both member rows, and queue an update. A line that cannot be
imported is reported with its number and the import goes on; tokens are never
printed.
"""

import csv
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apiclients.errors import InvalidGrant, UpstreamError
from apiclients.moves import MovesClient
from apiclients.openhumans import OpenHumansClient
from core import accounts
from core.models import DifferentMovesAccount
from core.source import own_source

FIELDS = 3


class LineError(Exception):
    """A line that was not imported; the message says why, without any token."""


class HeaderLine(Exception):
    """The first line names the fields instead of holding a member."""


class Command(BaseCommand):
    help = (
        "Import members from lines 'oh_id,oh_refresh_token,moves_refresh_token': refresh both "
        "tokens, store the members and queue an update for each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--infile", required=True, help="file of member lines")
        parser.add_argument("--delimiter", default=",", help="field separator (default ',')")

    def handle(self, *args: Any, infile: str, delimiter: str, **options: Any) -> None:
        if len(delimiter) != 1:
            raise CommandError("--delimiter must be one character")
        try:
            source = Path(infile).open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CommandError(f"cannot read {infile}: {exc.__class__.__name__}: {exc}") from None

        started = time.perf_counter()
        outcomes: Counter[str] = Counter()
        oh_client, moves_client = OpenHumansClient(), MovesClient()
        # Read line by line: a file of many members never sits in memory whole.
        with source:
            try:
                self._import(source, delimiter, outcomes, oh_client, moves_client)
            except UnicodeDecodeError as exc:
                raise CommandError(f"cannot read {infile}: it is not UTF-8 text ({exc.reason})") from None

        elapsed = time.perf_counter() - started
        extra = "".join(
            f", {outcomes[kind]} {kind} skipped" for kind in ("header", "blank") if outcomes[kind]
        )
        self.stdout.write(
            f"import_users: imported {outcomes['imported']}, failed {outcomes['failed']}{extra}; "
            f"{elapsed:.2f} s"
        )

    def _import(
        self,
        source: TextIO,
        delimiter: str,
        outcomes: Counter[str],
        oh_client: OpenHumansClient,
        moves_client: MovesClient,
    ) -> None:
        for number, fields in enumerate(csv.reader(source, delimiter=delimiter), start=1):
            if not any(field.strip() for field in fields):
                outcomes["blank"] += 1
                self.stderr.write(f"line {number}: blank, skipped")
                continue
            try:
                oh_id = import_line(fields, number, oh_client, moves_client)
            except HeaderLine:
                outcomes["header"] += 1
                self.stdout.write(f"line {number}: header, skipped")
            except LineError as exc:
                outcomes["failed"] += 1
                self.stderr.write(f"line {number}: {exc}")
            else:
                outcomes["imported"] += 1
                self.stdout.write(f"line {number}: imported member {oh_id}, update queued")


def import_line(
    fields: list[str], number: int, oh_client: OpenHumansClient, moves_client: MovesClient
) -> str:
    """Import one member; returns their Open Humans id or raises ``LineError``."""
    fields = [field.strip() for field in fields]
    # Member ids are numbers; a first line that starts with a name is a header.
    if number == 1 and fields[0] and not fields[0].isdigit():
        raise HeaderLine()
    if len(fields) != FIELDS:
        raise LineError(
            f"expected {FIELDS} fields (oh_id, oh_refresh_token, moves_refresh_token), found {len(fields)}"
        )
    oh_id, oh_refresh, moves_refresh = fields
    if not oh_id.isdigit():
        raise LineError("the Open Humans member id is not a number")
    if not oh_refresh or not moves_refresh:
        raise LineError(f"member {oh_id}: a refresh token is empty")

    # Open Humans first: its refresh token proves which member the line is for.
    try:
        oh_grant = oh_client.refresh(oh_refresh)
        remote = oh_client.exchange_member(
            oh_grant.access_token, own_source(oh_grant.access_token, oh_client)
        )
    except InvalidGrant:
        raise LineError(f"member {oh_id}: Open Humans refused the refresh token") from None
    except UpstreamError as exc:
        raise LineError(f"member {oh_id}: Open Humans failed: {exc}") from None
    if remote.project_member_id != oh_id:
        # The old refresh token is spent now; keeping the new pair on the member
        # it belongs to is the only way they keep working for that member.
        accounts.sign_in(oh_grant, remote)
        raise LineError(
            f"member {oh_id}: the Open Humans token belongs to member {remote.project_member_id}, "
            "whose new tokens were stored; the line was not imported"
        )

    # Stored now: the old Open Humans refresh token is spent whatever Moves answers.
    oh_member = accounts.sign_in(oh_grant, remote)
    try:
        moves_grant = moves_client.refresh(moves_refresh)
    except InvalidGrant:
        raise LineError(
            f"member {oh_id}: Moves refused the refresh token; the Open Humans member was stored"
        ) from None
    except UpstreamError as exc:
        raise LineError(f"member {oh_id}: Moves failed: {exc}; the Open Humans member was stored") from None

    try:
        accounts.connect_moves(oh_member, moves_grant)
    except DifferentMovesAccount as exc:
        raise LineError(
            f"member {oh_id}: the Moves token is for another account than the one already connected "
            f"(Moves user {exc.held_moves_id}); nothing changed on the Moves side"
        ) from None
    return oh_id
