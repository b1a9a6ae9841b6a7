from django.apps import AppConfig


class DataUploaderConfig(AppConfig):
    name = "datauploader"
    verbose_name = "Data uploader"
