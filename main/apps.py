from django.apps import AppConfig


class MainConfig(AppConfig):
    name = "main"
    verbose_name = "Moves members"
