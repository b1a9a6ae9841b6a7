"""Admin for Moves connections: who is where in the sync, and two repair actions.

Tokens are never shown; the admin only says whether one is stored.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import truncatechars

from datauploader.tasks import enqueue_process_moves
from main.models import MovesMember, RecentDay
from main.templatetags.humanize_bytes import bytes_human


@admin.register(MovesMember)
class MovesMemberAdmin(admin.ModelAdmin):
    list_display = [
        "oh_id",
        "username",
        "status",
        "weeks",
        "days_held",
        "file_size_human",
        "last_updated",
        "last_error_short",
    ]
    list_filter = ["status", "member__needs_reconnect", "reconnect_notified"]
    search_fields = ["member__oh_id", "member__username", "moves_id"]
    list_select_related = ["member"]
    ordering = ["-updated"]
    exclude = ["access_token", "refresh_token"]
    readonly_fields = [
        "member",
        "moves_id",
        "has_tokens",
        "token_expires",
        "weeks_done",
        "weeks_total",
        "next_batch_at",
        "first_date",
        "last_day_held",
        "days_held",
        "file_id",
        "file_size",
        "file_sha256",
        "last_updated",
        "last_submitted",
        "last_error_at",
        "created",
        "updated",
    ]
    actions = ["queue_update", "mark_needs_reconnect"]
    change_list_template = "admin/main/movesmember/change_list.html"

    @admin.display(description="Open Humans id", ordering="member__oh_id")
    def oh_id(self, obj: MovesMember) -> str:
        return obj.member.oh_id

    @admin.display(description="username", ordering="member__username")
    def username(self, obj: MovesMember) -> str:
        return obj.member.username

    @admin.display(description="weeks held")
    def weeks(self, obj: MovesMember) -> str:
        return f"{obj.weeks_done}/{obj.weeks_total}"

    @admin.display(description="file size", ordering="file_size")
    def file_size_human(self, obj: MovesMember) -> str:
        return bytes_human(obj.file_size) or "-"

    @admin.display(description="last error")
    def last_error_short(self, obj: MovesMember) -> str:
        return truncatechars(obj.last_error, 60) if obj.last_error else ""

    @admin.display(description="tokens stored", boolean=True)
    def has_tokens(self, obj: MovesMember) -> bool:
        return bool(obj.refresh_token)

    @admin.action(description="Queue an update")
    def queue_update(self, request: HttpRequest, queryset: QuerySet[MovesMember]) -> None:
        oh_ids = list(queryset.values_list("member__oh_id", flat=True))
        for oh_id in oh_ids:
            enqueue_process_moves(oh_id)
        self.message_user(request, f"Queued an update for {len(oh_ids)} member(s).", messages.SUCCESS)

    @admin.action(description="Mark as needing reconnect")
    def mark_needs_reconnect(self, request: HttpRequest, queryset: QuerySet[MovesMember]) -> None:
        changed = queryset.update(status=MovesMember.Status.NEEDS_RECONNECT)
        self.message_user(request, f"Marked {changed} member(s) as needing to reconnect Moves.")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = dict(MovesMember.objects.values_list("status").annotate(n=Count("pk")).order_by())
        status_counts = [(label, counts.get(value, 0)) for value, label in MovesMember.Status.choices]
        extra_context = {**(extra_context or {}), "status_counts": status_counts}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(RecentDay)
class RecentDayAdmin(admin.ModelAdmin):
    list_display = ["moves_member", "date", "steps", "distance_m"]
    list_select_related = ["moves_member__member"]
    search_fields = ["moves_member__member__oh_id"]
    date_hierarchy = "date"
    readonly_fields = ["moves_member", "date", "steps", "distance_m", "places", "tracks"]
