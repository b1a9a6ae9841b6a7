"""Admin for Open Humans members; tokens are never shown."""

from django.contrib import admin

from open_humans.models import OpenHumansMember


@admin.register(OpenHumansMember)
class OpenHumansMemberAdmin(admin.ModelAdmin):
    list_display = ["oh_id", "username", "moves_status", "needs_reconnect", "message_permission", "created"]
    list_filter = ["needs_reconnect", "message_permission", "moves_member__status"]
    search_fields = ["oh_id", "username", "moves_member__moves_id"]
    list_select_related = ["user", "moves_member"]
    exclude = ["access_token", "refresh_token"]
    readonly_fields = ["user", "oh_id", "has_tokens", "token_expires", "created", "updated"]

    @admin.display(description="Moves status", ordering="moves_member__status")
    def moves_status(self, obj: OpenHumansMember) -> str:
        moves = getattr(obj, "moves_member", None)
        return moves.get_status_display() if moves else "not connected"

    @admin.display(description="tokens stored", boolean=True)
    def has_tokens(self, obj: OpenHumansMember) -> bool:
        return bool(obj.refresh_token)
