# The Moves member and its recent days move from the app "main" to "core"
# (the domain core). Their tables stay where they are in this step; only
# Django's record of which app owns them changes.

import django.db.models.deletion
from django.db import migrations, models

import open_humans.fields


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("open_humans", "0001_initial"),
        ("main", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MovesMember",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "moves_id",
                            models.BigIntegerField(blank=True, null=True, verbose_name="Moves user id"),
                        ),
                        ("access_token", open_humans.fields.EncryptedTextField(blank=True)),
                        ("refresh_token", open_humans.fields.EncryptedTextField(blank=True)),
                        ("token_expires", models.DateTimeField(blank=True, null=True)),
                        ("last_updated", models.DateTimeField(blank=True, null=True)),
                        ("last_submitted", models.DateTimeField(blank=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("new", "Waiting for the first update"),
                                    ("backfilling", "Backfilling history"),
                                    ("current", "Up to date"),
                                    ("needs_reconnect", "Needs to reconnect"),
                                    ("failing", "Failing"),
                                ],
                                db_index=True,
                                default="new",
                                max_length=20,
                            ),
                        ),
                        ("last_error", models.TextField(blank=True)),
                        ("last_error_at", models.DateTimeField(blank=True, null=True)),
                        ("reconnect_notified", models.BooleanField(default=False)),
                        ("weeks_done", models.PositiveIntegerField(default=0)),
                        ("weeks_total", models.PositiveIntegerField(default=0)),
                        ("next_batch_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "first_date",
                            models.DateField(
                                blank=True, null=True, verbose_name="first day with data (Moves profile)"
                            ),
                        ),
                        ("last_day_held", models.DateField(blank=True, null=True)),
                        ("days_held", models.PositiveIntegerField(default=0)),
                        (
                            "file_id",
                            models.BigIntegerField(blank=True, null=True, verbose_name="Open Humans file id"),
                        ),
                        ("file_size", models.BigIntegerField(blank=True, null=True)),
                        ("file_sha256", models.CharField(blank=True, max_length=64)),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        (
                            "member",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="moves_member",
                                to="open_humans.openhumansmember",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Moves member",
                        "db_table": "main_movesmember",
                    },
                ),
                migrations.CreateModel(
                    name="RecentDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("date", models.DateField()),
                        ("steps", models.PositiveIntegerField(default=0)),
                        ("distance_m", models.FloatField(default=0)),
                        ("places", models.JSONField(default=list)),
                        ("tracks", models.JSONField(default=list)),
                        (
                            "moves_member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="recent_days",
                                to="core.movesmember",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["date"],
                        "db_table": "main_recentday",
                    },
                ),
                migrations.AddIndex(
                    model_name="movesmember",
                    index=models.Index(fields=["last_updated"], name="moves_last_updated_idx"),
                ),
                migrations.AddConstraint(
                    model_name="recentday",
                    constraint=models.UniqueConstraint(
                        fields=("moves_member", "date"), name="recent_day_unique"
                    ),
                ),
            ],
        ),
    ]
