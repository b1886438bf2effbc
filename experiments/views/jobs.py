"""Pages of deletion jobs (progress, live) and of the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from experiments.api.serializers import DeletionJobSerializer
from experiments.errors import PortalError
from experiments.models import AuditLog
from experiments.selectors.access import owned_jobs
from experiments.services.audit import Actor
from experiments.services.deletion import deletion_job_retry


def job_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(owned_jobs(request.user).order_by("-created_at", "-id"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "experiments/manage/job_list.html", {"page": page})


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(owned_jobs(request.user), pk=pk)
    return render(
        request,
        "experiments/manage/job_detail.html",
        {
            "job": job,
            "job_data": DeletionJobSerializer(job).data,
            "audit": AuditLog.objects.filter(job=job).order_by("at", "id"),
        },
    )


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(owned_jobs(request.user), pk=pk)
    try:
        job = deletion_job_retry(job_id=job.pk, actor=Actor.from_request(request))
    except PortalError as error:
        messages.error(request, error.message)
        return redirect("experiments:job-detail", pk=pk)
    if job.enqueue_error:
        messages.warning(
            request,
            f"The retry is recorded, but the task queue could not be reached: "
            f"{job.enqueue_error} It starts by itself as soon as the queue is back.",
        )
    else:
        messages.success(request, "The job is queued again; it resumes where it stopped.")
    return redirect("experiments:job-detail", pk=pk)


def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditLog.objects.select_related("job").order_by("-at", "-id")
    if not request.user.is_superuser:
        entries = entries.filter(job__in=owned_jobs(request.user))
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "experiments/manage/audit_log.html", {"page": page})
