from django.urls import path

from main import views

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.start_open_humans, name="login"),
    path("complete/", views.complete_open_humans, name="complete"),
    path("moves/connect/", views.connect_moves, name="connect_moves"),
    path("moves_complete/", views.complete_moves, name="moves_complete"),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/status.json", views.dashboard_status, name="dashboard_status"),
    path("dashboard/history.json", views.dashboard_history, name="dashboard_history"),
    path("dashboard/day/<str:day>.json", views.dashboard_day, name="dashboard_day"),
    path("update_data/", views.update_data, name="update_data"),
    path("remove_moves/", views.remove_moves, name="remove_moves"),
    path("download/", views.download, name="download"),
    path("logout/", views.logout_view, name="logout"),
    path("logged-out/", views.logged_out, name="logged_out"),
    path("webhooks/open-humans/deauthorize/", views.deauthorize_webhook, name="deauthorize_webhook"),
    path("webhooks/moves/storyline/", views.moves_notification, name="moves_notification"),
    path("favicon.ico", views.favicon, name="favicon"),
]
