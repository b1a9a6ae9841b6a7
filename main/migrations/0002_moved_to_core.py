# The Moves member and its recent days now belong to "core" (see
# core/migrations/0001_initial.py); the tables themselves are untouched here.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("main", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="RecentDay"),
                migrations.DeleteModel(name="MovesMember"),
            ],
        ),
    ]
