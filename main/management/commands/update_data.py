"""Queue an update for every connected member whose data on Open Humans is stale (run daily)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core import daily, deliveries


class Command(BaseCommand):
    help = (
        "Queue an update for every connected Moves member whose data is older than UPDATE_STALE_AFTER_HOURS "
        "(or who was never updated), and a weekly sweep where one is due; report whom it skipped and why. "
        "Also forgets webhook deliveries past their replay window."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="queue nothing; say what would be queued")

    def handle(self, *args: Any, dry_run: bool, verbosity: int, **options: Any) -> None:
        def report(oh_id: str, reason: str) -> None:
            if reason != daily.QUEUE:
                self.stdout.write(f"skipped {oh_id}: {reason}")
            elif dry_run:
                self.stdout.write(f"would queue {oh_id}")

        plan = daily.plan_daily(dry_run=dry_run, on_member=report if verbosity >= 2 else None)
        if not dry_run:
            # Nothing else runs daily: webhook digests past their replay window go here.
            forgotten = deliveries.forget_old_deliveries()
            if verbosity >= 2:
                self.stdout.write(f"forgot {forgotten} webhook deliveries past their replay window")
        # The summary is printed at every verbosity: it is what the scheduler's log keeps.
        self.stdout.write(daily.describe(plan, dry_run=dry_run))
