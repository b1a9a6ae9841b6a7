from django.contrib import admin

from sandbox.models import (
    Fault,
    MovesToken,
    OHToken,
    SandboxFile,
    SandboxMessage,
    SandboxMovesUser,
    SandboxOHMember,
)


@admin.register(SandboxMovesUser)
class SandboxMovesUserAdmin(admin.ModelAdmin):
    list_display = ["name", "moves_id", "first_date", "last_date", "time_zone", "created"]
    search_fields = ["name", "moves_id"]


@admin.register(SandboxOHMember)
class SandboxOHMemberAdmin(admin.ModelAdmin):
    list_display = ["username", "project_member_id", "message_permission", "active", "created"]
    search_fields = ["username", "project_member_id"]


@admin.register(MovesToken, OHToken)
class TokenAdmin(admin.ModelAdmin):
    list_display = ["id", "client_id", "expires_at", "revoked_at", "created"]


@admin.register(SandboxFile)
class SandboxFileAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "basename", "size", "completed_at", "created"]
    list_filter = ["basename"]


@admin.register(SandboxMessage)
class SandboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "subject", "delivered", "created"]


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "status", "delay", "malformed", "remaining", "created"]
