from django.apps import AppConfig


class DataUploaderConfig(AppConfig):
    name = "datauploader"
    verbose_name = "Data uploader"

    def ready(self) -> None:
        # Registers the tasks with the Celery app in every process, so that a
        # task the web side asks for by name (core/jobs.py) is found there
        # too, and the worker's upload before it stops.
        from datauploader import shutdown, tasks  # noqa: F401
