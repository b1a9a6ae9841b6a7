"""URLs of the stand-in servers, mounted at /sandbox/ when SANDBOX_ENABLED.

Paths mirror the real hosts: Moves under moves/oauth/v1 and moves/api/1.1,
Open Humans under openhumans/.
"""

from django.urls import path

from sandbox import control_views, moves_views, openhumans_views

app_name = "sandbox"

OH_API = "openhumans/api/direct-sharing/project/"

urlpatterns = [
    path("", control_views.index, name="index"),
    path("faults/", control_views.fault_api, name="faults"),
    path("moves/oauth/v1/authorize", moves_views.authorize, name="moves-authorize"),
    path("moves/oauth/v1/access_token", moves_views.access_token, name="moves-token"),
    path("moves/oauth/v1/tokeninfo", moves_views.tokeninfo, name="moves-tokeninfo"),
    path("moves/api/1.1/user/profile", moves_views.profile, name="moves-profile"),
    path("moves/api/1.1/user/storyline/daily", moves_views.storyline, name="moves-storyline-range"),
    path("moves/api/1.1/user/storyline/daily/<str:period>", moves_views.storyline, name="moves-storyline"),
    path(
        "openhumans/direct-sharing/projects/oauth2/authorize/",
        openhumans_views.authorize,
        name="oh-authorize",
    ),
    path("openhumans/oauth2/token/", openhumans_views.token, name="oh-token"),
    path(OH_API + "exchange-member/", openhumans_views.exchange_member, name="oh-exchange-member"),
    path(OH_API + "files/upload/direct/", openhumans_views.upload_direct, name="oh-upload-direct"),
    path(OH_API + "files/upload/complete/", openhumans_views.upload_complete, name="oh-upload-complete"),
    path(OH_API + "files/delete/", openhumans_views.delete, name="oh-delete"),
    path(OH_API + "message/", openhumans_views.message, name="oh-message"),
    path(
        "openhumans/storage/<int:file_id>/<str:basename>", openhumans_views.storage_object, name="oh-storage"
    ),
]
