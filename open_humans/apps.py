from django.apps import AppConfig


class OpenHumansConfig(AppConfig):
    name = "open_humans"
    verbose_name = "Open Humans"
