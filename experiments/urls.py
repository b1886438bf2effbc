"""The portal's pages."""

from __future__ import annotations

from django.urls import path

from experiments.views import pages

app_name = "experiments"

urlpatterns = [
    path("", pages.home, name="home"),
]
