# Members connected before the sync queue existed: those still fetching
# their history join the queue, and every member's backfill continues after
# the last day their file holds instead of starting over.

from datetime import timedelta

from django.db import migrations
from django.utils import timezone


def queue_existing(apps, schema_editor):
    MovesMember = apps.get_model("core", "MovesMember")
    now = timezone.now()
    for member in MovesMember.objects.exclude(refresh_token="").iterator():
        fields = {}
        if member.last_day_held is not None:
            fields["backfill_next"] = member.last_day_held - timedelta(days=member.last_day_held.weekday())
        if member.status in ("new", "backfilling", "failing"):
            fields.update(
                sync_wanted_since=member.created or now,
                sync_priority=1 if member.status == "new" else 2,
                requests_wanted=max(1, member.weeks_total - member.weeks_done),
                update_requested_at=now,
            )
        if fields:
            MovesMember.objects.filter(pk=member.pk).update(**fields)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_queue_calendar_and_deliveries")]

    operations = [migrations.RunPython(queue_existing, migrations.RunPython.noop)]
