from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from experiments.choices import ContainerState
from experiments.selectors.groups import browsable_groups


def home(request: HttpRequest) -> HttpResponse:
    # A group being deleted has left the browsing pages (it stays under /manage/).
    groups = browsable_groups().annotate(
        workspace_count=Count("workspaces", filter=Q(workspaces__state=ContainerState.ACTIVE))
    )
    groups = groups.order_by("name")
    return render(request, "experiments/home.html", {"groups": groups})
