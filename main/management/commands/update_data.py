"""Queue an update for every connected member whose data on Open Humans is stale (run daily)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datauploader import scheduling


class Command(BaseCommand):
    help = (
        "Queue process_moves for every connected Moves member whose last update is older than "
        "UPDATE_STALE_AFTER_DAYS (4) or who was never updated; report whom it skipped and why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="queue nothing; say what would be queued")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=scheduling.BATCH_SIZE,
            help=f"members per queued batch (default {scheduling.BATCH_SIZE})",
        )

    def handle(self, *args, dry_run: bool, batch_size: int, verbosity: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def report(oh_id: str, reason: str) -> None:
            if reason != scheduling.QUEUE:
                self.stdout.write(f"skipped {oh_id}: {reason}")
            elif dry_run:
                self.stdout.write(f"would queue {oh_id}")

        plan, elapsed = scheduling.queue_stale_members(
            dry_run=dry_run, on_member=report if verbosity >= 2 else None, batch_size=batch_size
        )
        # The summary is printed at every verbosity: it is what the scheduler's log keeps.
        self.stdout.write(scheduling.describe(plan, elapsed, dry_run=dry_run))
