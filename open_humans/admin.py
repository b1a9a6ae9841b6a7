"""Admin for Open Humans members; tokens are never shown, and list pages never decrypt them."""

from django.contrib import admin
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest

from open_humans.models import OpenHumansMember

TOKENS = ("access_token", "refresh_token")


@admin.register(OpenHumansMember)
class OpenHumansMemberAdmin(admin.ModelAdmin[OpenHumansMember]):
    list_display = ["oh_id", "username", "moves_status", "needs_reconnect", "signed_in_at", "created"]
    list_filter = ["needs_reconnect", "moves_member__status"]
    search_fields = ["oh_id", "username", "moves_member__moves_id"]
    list_select_related = ["user"]
    exclude = TOKENS
    readonly_fields = [
        "user",
        "oh_id",
        "tokens_stored",
        "token_expires",
        "signed_in_at",
        "created",
        "updated",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OpenHumansMember]:
        # The Moves status is read by name, not through the related row, whose
        # tokens would be decrypted on loading.
        members: QuerySet[OpenHumansMember] = super().get_queryset(request)
        return (
            members.defer(*TOKENS)
            .annotate(tokens=~Q(refresh_token=""))
            .annotate(moves_state=F("moves_member__status"))
        )

    @admin.display(description="Moves status", ordering="moves_member__status")
    def moves_status(self, obj: OpenHumansMember) -> str:
        return getattr(obj, "moves_state", None) or "not connected"

    @admin.display(description="tokens stored", boolean=True)
    def tokens_stored(self, obj: OpenHumansMember) -> bool:
        return bool(getattr(obj, "tokens", False))
