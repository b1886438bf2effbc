"""The experiment page: its runs in a table with chosen columns, MLflow filter, sort, pages."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from experiments.choices import RunStatus, ViewType
from experiments.errors import InvalidInput
from experiments.models import Run
from experiments.selectors.portal import (
    RunColumns,
    child_counts,
    experiment_get,
    experiment_keys,
    run_columns,
    workspace_get,
)
from experiments.selectors.runs import encode_offset_token
from experiments.selectors.search import runs_search
from experiments.views.common import choice_parameter, int_parameter, list_parameter, page

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_COLUMNS = 4
MAX_COLUMNS = 100
# The filter box's text; the MLflow API takes longer filters (long IN lists of run ids).
MAX_FILTER_LENGTH = 10_000
LIFECYCLES = {
    "active": ViewType.ACTIVE_ONLY,
    "deleted": ViewType.DELETED_ONLY,
    "all": ViewType.ALL,
}
STATUSES = {"": None, **{status.value: status for status in RunStatus}}
DEFAULT_ORDER = "attributes.start_time DESC"


@dataclass
class Row:
    run: Run
    columns: RunColumns
    depth: int = 0
    child_count: int = 0
    parent_on_page: bool = False


@dataclass
class Column:
    label: str
    order_key: str
    kind: str
    key: str = ""


def order_key(kind: str, key: str) -> str:
    """An order_by identifier for a column; backticks allow any key MLflow accepts."""
    return f"{kind}.`{key}`"


def nest(runs: list[Run], columns: dict[int, RunColumns], children: dict[str, int]) -> list[Row]:
    """Rows with each child run right under its parent when both are on the page."""
    on_page = {run.uuid for run in runs}
    by_parent: dict[str, list[Run]] = {}
    top: list[Run] = []
    for run in runs:
        parent = columns[run.pk].parent_id
        if parent and parent in on_page and parent != run.uuid:
            by_parent.setdefault(parent, []).append(run)
        else:
            top.append(run)
    rows: list[Row] = []
    seen: set[str] = set()

    def add(run: Run, depth: int) -> None:
        if run.uuid in seen:
            return
        seen.add(run.uuid)
        rows.append(
            Row(run, columns[run.pk], depth, children.get(run.uuid, 0), parent_on_page=depth > 0)
        )
        for child in by_parent.get(run.uuid, []):
            add(child, depth + 1)

    for run in top:
        add(run, 0)
    for run in runs:  # a cycle of parents (malformed tags) still shows every run
        add(run, 0)
    return rows


def _columns(request: HttpRequest, name: str, keys: list[str]) -> list[str]:
    """The param or metric columns asked for: keys the experiment has, in the order given.
    Every sort and page link repeats the list, so a page's size would otherwise grow with the
    square of what an address asks for."""
    if name not in request.GET:
        return keys[:DEFAULT_COLUMNS]
    known = set(keys)
    shown = [key for key in list_parameter(request, name) if key in known]
    if len(shown) > MAX_COLUMNS:
        raise InvalidInput(f"A page shows at most {MAX_COLUMNS} {name} columns.")
    return shown


@page
def experiment_detail(
    request: HttpRequest, group: str, workspace: str, experiment_id: str
) -> HttpResponse:
    ws = workspace_get(user=request.user, group=group, name=workspace)
    experiment = experiment_get(workspace=ws, experiment_id=experiment_id)
    per_page = int_parameter(
        request, "per_page", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE, label="page size"
    )
    page_number = int_parameter(request, "page", 1, low=1, high=10**7, label="page number")
    lifecycle = choice_parameter(request, "lifecycle", LIFECYCLES, "active", label="lifecycle")
    status = choice_parameter(request, "status", STATUSES, "", label="status")
    user_filter = request.GET.get("filter", "").strip()
    order = request.GET.get("order", "").strip() or DEFAULT_ORDER
    param_keys, metric_keys = experiment_keys(experiment=experiment)
    if len(user_filter) > MAX_FILTER_LENGTH:
        raise InvalidInput(f"A filter here can be at most {MAX_FILTER_LENGTH:,} characters.")
    shown_params = _columns(request, "params", param_keys)
    shown_metrics = _columns(request, "metrics", metric_keys)
    filter_string = user_filter
    if status:
        status_clause = f"attributes.status = '{status}'"
        filter_string = f"{user_filter} AND {status_clause}" if user_filter else status_clause

    error = ""
    runs: list[Run] = []
    next_token = None
    try:
        runs, next_token = runs_search(
            workspace=ws,
            experiment_pks=[experiment.pk],
            filter_string=filter_string,
            view_type=LIFECYCLES[lifecycle],
            order_by=[order],
            max_results=per_page,
            page_token=encode_offset_token((page_number - 1) * per_page),
        )
    except InvalidInput as problem:
        # The page stays usable: the message sits under the box that holds the bad text.
        error = problem.message
    columns = run_columns(runs=runs, params=shown_params, metrics=shown_metrics)
    rows = nest(runs, columns, child_counts(runs=runs))

    # The page's own settings, carried by every sort and page link (empty values dropped,
    # except the column lists, where empty means "no columns" rather than "the default").
    state: dict[str, object] = {
        key: value
        for key, value in {
            "filter": user_filter,
            "status": status,
            "lifecycle": lifecycle if lifecycle != "active" else "",
            "order": order,
            "per_page": per_page if per_page != DEFAULT_PAGE_SIZE else "",
        }.items()
        if value != ""
    }
    state["params"] = ",".join(shown_params)
    state["metrics"] = ",".join(shown_metrics)

    def link(**changes: object) -> str:
        merged = {**state, **changes}
        return "?" + urlencode({k: v for k, v in merged.items() if v is not None})

    header = [
        Column("Run", order_key("attributes", "run_name"), "attribute"),
        Column("Status", order_key("attributes", "status"), "attribute"),
        Column("Started", order_key("attributes", "start_time"), "attribute"),
        Column("Duration", order_key("attributes", "end_time"), "attribute"),
        Column("User", order_key("attributes", "user_id"), "attribute"),
        *(Column(k, order_key("params", k), "param", k) for k in shown_params),
        *(Column(k, order_key("metrics", k), "metric", k) for k in shown_metrics),
    ]
    sort_links = []
    for column in header:
        current = order.split()[0] if order else ""
        same = current in (column.order_key, column.order_key.replace("`", ""))
        descending = order.upper().endswith("DESC")
        direction = "ASC" if same and descending else "DESC"
        sort_links.append(
            {
                "column": column,
                "url": link(order=f"{column.order_key} {direction}", page=1),
                "active": same,
                "descending": descending,
            }
        )
    return render(
        request,
        "experiments/experiment.html",
        {
            "workspace": ws,
            "group": ws.resource_group,
            "experiment": experiment,
            "rows": rows,
            "sort_links": sort_links,
            "shown_params": shown_params,
            "shown_metrics": shown_metrics,
            "param_keys": param_keys,
            "metric_keys": metric_keys,
            "error": error,
            "filter": user_filter,
            "status": status,
            "statuses": [s for s in STATUSES if s],
            "lifecycle": lifecycle,
            "lifecycles": list(LIFECYCLES),
            "order": order,
            "per_page": per_page,
            "page_number": page_number,
            "prev_url": link(page=page_number - 1) if page_number > 1 else "",
            "next_url": link(page=page_number + 1) if next_token else "",
            "first_index": (page_number - 1) * per_page + 1,
            "last_index": (page_number - 1) * per_page + len(runs),
        },
        status=400 if error else 200,
    )
