"""Admin for Moves connections: who is where in the sync, the shared quota, and two repair actions.

Tokens are never shown, and list pages never decrypt them (one row whose
token no key decrypts must not take the whole list down): the token fields
are deferred and "tokens stored" is read from the database as a comparison.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import truncatechars

from core import jobs
from core.models import MovesMember, RecentDay
from core.operations import queue_overview
from main.templatetags.humanize_bytes import bytes_human

TOKENS = ("access_token", "refresh_token")


@admin.register(MovesMember)
class MovesMemberAdmin(admin.ModelAdmin[MovesMember]):
    list_display = [
        "oh_id",
        "status",
        "weeks",
        "file_size_human",
        "last_updated",
        "next_try",
        "last_error_short",
    ]
    list_filter = ["status", "error_service", "member__needs_reconnect", "sync_priority"]
    search_fields = ["member__oh_id", "member__username", "moves_id"]
    list_select_related = ["member"]
    ordering = ["-updated"]
    exclude = TOKENS
    readonly_fields = [
        "member",
        "moves_id",
        "tokens_stored",
        "token_expires",
        "first_date",
        "time_zone",
        "status",
        "error_service",
        "last_error",
        "last_error_at",
        "failures",
        "sync_wanted_since",
        "sync_priority",
        "requests_wanted",
        "not_before",
        "lease_until",
        "worker_home",
        "backfill_next",
        "weeks_done",
        "weeks_total",
        "last_updated",
        "update_requested_at",
        "last_notified_at",
        "last_sweep_at",
        "file_id",
        "file_size",
        "file_sha256",
        "uploaded_at",
        "days_held",
        "first_day_held",
        "last_day_held",
        "created",
        "updated",
    ]
    actions = ["queue_update", "mark_needs_reconnect"]
    change_list_template = "admin/core/movesmember/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[MovesMember]:
        members: QuerySet[MovesMember] = super().get_queryset(request)
        # The Open Humans member is loaded with the row (its id is shown), so
        # its tokens are deferred too; the change page reads it the same way.
        return (
            members.select_related("member")
            .defer(*TOKENS, *(f"member__{name}" for name in TOKENS))
            .annotate(tokens=~Q(refresh_token=""))
        )

    @admin.display(description="Open Humans id", ordering="member__oh_id")
    def oh_id(self, obj: MovesMember) -> str:
        return obj.member.oh_id

    @admin.display(description="weeks")
    def weeks(self, obj: MovesMember) -> str:
        return f"{obj.weeks_done}/{obj.weeks_total}"

    @admin.display(description="file", ordering="file_size")
    def file_size_human(self, obj: MovesMember) -> str:
        return bytes_human(obj.file_size) or "-"

    @admin.display(description="next try", ordering="not_before")
    def next_try(self, obj: MovesMember) -> str:
        when = obj.next_try_at()
        return f"{when:%Y-%m-%d %H:%M}" if when else ""

    @admin.display(description="last error")
    def last_error_short(self, obj: MovesMember) -> str:
        return truncatechars(obj.last_error, 50) if obj.last_error else ""

    @admin.display(description="tokens stored", boolean=True)
    def tokens_stored(self, obj: MovesMember) -> bool:
        return bool(getattr(obj, "tokens", False))

    @admin.action(description="Queue an update")
    def queue_update(self, request: HttpRequest, queryset: QuerySet[MovesMember]) -> None:
        count = MovesMember.objects.filter(pk__in=queryset.values("pk")).syncable().request_updates()
        jobs.wake_dispatcher()
        self.message_user(request, f"Queued an update for {count} member(s).", messages.SUCCESS)

    @admin.action(description="Mark as needing reconnect")
    def mark_needs_reconnect(self, request: HttpRequest, queryset: QuerySet[MovesMember]) -> None:
        changed = 0
        for member in queryset.defer(*TOKENS):
            changed += member.require_reconnect("Moves", "An operator asked you to connect Moves again.")
        self.message_user(request, f"Marked {changed} member(s) as needing to reconnect Moves.")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "overview": queue_overview()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(RecentDay)
class RecentDayAdmin(admin.ModelAdmin[RecentDay]):
    list_display = ["oh_id", "date", "steps", "distance_m"]
    search_fields = ["moves_member__member__oh_id"]
    date_hierarchy = "date"
    readonly_fields = ["date", "steps", "distance_m", "places", "tracks"]
    exclude = ["moves_member"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecentDay]:
        days: QuerySet[RecentDay] = super().get_queryset(request)
        return days.annotate(member_oh_id=F("moves_member__member__oh_id"))

    @admin.display(description="Open Humans id", ordering="member_oh_id")
    def oh_id(self, obj: RecentDay) -> str:
        return str(getattr(obj, "member_oh_id", ""))
