"""Only the sandbox, at the same /sandbox/ path as in the full project."""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("sandbox.urls"))]
