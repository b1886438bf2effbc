from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from experiments.models import ResourceGroup


def home(request: HttpRequest) -> HttpResponse:
    groups = ResourceGroup.objects.annotate(workspace_count=Count("workspaces")).order_by("name")
    return render(request, "experiments/home.html", {"groups": groups})
