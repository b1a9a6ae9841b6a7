"""The stand-ins' routes, included at the root by ``sandbox.urls`` under the namespace "sandbox".

Moves (api.moves-app.com) under /oauth/v1/ and /api/1.1/; Open Humans
(www.openhumans.org) under its own paths; /storage/ stands for Open Humans'
S3 bucket; / is the sandbox's control page.
"""

from django.urls import path, re_path

from sandbox import control_views, moves_views, openhumans_views
from sandbox.web import served

app_name = "sandbox"

MOVES_API = "api/1.1/user/"
OH_API = "api/direct-sharing/project/"

urlpatterns = [
    path("", served(control_views.index), name="index"),
    path("faults/", served(control_views.fault_api), name="faults"),
    # Moves
    path("oauth/v1/authorize", served(moves_views.authorize), name="moves-authorize"),
    path("oauth/v1/access_token", served(moves_views.access_token), name="moves-token"),
    path("oauth/v1/tokeninfo", served(moves_views.tokeninfo), name="moves-tokeninfo"),
    path(MOVES_API + "profile", served(moves_views.profile), name="moves-profile"),
    path(MOVES_API + "storyline/daily", served(moves_views.storyline_daily), name="moves-storyline-range"),
    path(
        MOVES_API + "storyline/daily/<str:period>",
        served(moves_views.storyline_daily),
        name="moves-storyline",
    ),
    path(MOVES_API + "summary/daily", served(moves_views.summary_daily), name="moves-summary-range"),
    path(MOVES_API + "summary/daily/<str:period>", served(moves_views.summary_daily), name="moves-summary"),
    path(MOVES_API + "activities/daily", served(moves_views.activities_daily), name="moves-activities-range"),
    path(
        MOVES_API + "activities/daily/<str:period>",
        served(moves_views.activities_daily),
        name="moves-activities",
    ),
    path(MOVES_API + "places/daily", served(moves_views.places_daily), name="moves-places-range"),
    path(MOVES_API + "places/daily/<str:period>", served(moves_views.places_daily), name="moves-places"),
    # Open Humans
    path(
        "direct-sharing/projects/oauth2/authorize/",
        served(openhumans_views.authorize),
        name="oh-authorize",
    ),
    path("oauth2/token/", served(openhumans_views.token), name="oh-token"),
    path(OH_API, served(openhumans_views.project), name="oh-project"),
    path(OH_API + "exchange-member/", served(openhumans_views.exchange_member), name="oh-exchange-member"),
    path(OH_API + "files/upload/", served(openhumans_views.upload), name="oh-upload"),
    path(OH_API + "files/upload/direct/", served(openhumans_views.upload_direct), name="oh-upload-direct"),
    path(
        OH_API + "files/upload/complete/", served(openhumans_views.upload_complete), name="oh-upload-complete"
    ),
    path(OH_API + "files/delete/", served(openhumans_views.delete), name="oh-delete"),
    path(OH_API + "message/", served(openhumans_views.message), name="oh-message"),
    # No "$": the real pattern takes anything after the id's slash.
    re_path(
        r"^data-management/datafile-download/(?P<pk>[0-9]+)/",
        served(openhumans_views.datafile_download),
        name="oh-datafile-download",
    ),
    # Open Humans' S3 bucket
    path("storage/<path:key>", served(openhumans_views.storage_object), name="oh-storage"),
]
