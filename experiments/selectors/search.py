"""Search of runs, experiments and logged models: MLflow's grammar (experiments.search) as
ORM filters, in one query per page plus a fixed number for the details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from experiments.choices import LifecycleStage, ViewType
from experiments.errors import InvalidInput
from experiments.models import (
    DEFAULT_EXPERIMENT_WIRE_ID,
    Experiment,
    ExperimentTag,
    InputTag,
    LatestMetric,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelParam,
    LoggedModelTag,
    Param,
    Run,
    RunInput,
    RunTag,
    Workspace,
)
from experiments.search import (
    EXPERIMENTS,
    LOGGED_MODELS,
    RUNS,
    Clause,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from experiments.selectors.runs import decode_offset_token, encode_offset_token
from experiments.validation import INT64_MAX

MAX_RESULTS_LIMIT = 50000
DATASET_CONTEXT_TAG = "mlflow.data.context"

_RUN_ATTRIBUTE_FIELDS = {
    "run_id": "uuid",
    "run_name": "name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "start_time": "start_time",
    "end_time": "end_time",
}
_OPERATORS = {
    "=": "exact",
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
    "LIKE": "like",
    "ILIKE": "ilike",
    "IN": "in",
}


def validate_max_results(max_results: int) -> None:
    if max_results < 1:
        raise InvalidInput(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
            "a positive integer"
        )
    if max_results > MAX_RESULTS_LIMIT:
        raise InvalidInput(
            "Invalid value for request parameter max_results. It must be at most "
            f"{MAX_RESULTS_LIMIT}, but got value {max_results}"
        )


def _compare(field: str, comparator: str, value: Any) -> Q:
    """`field <comparator> value` as a Q object.

    A missing value (NULL, such as the end_time of a running run) matches no comparison, as
    in SQL and MLflow; Django's negation alone would let NULL rows through `!=` and NOT IN.
    """
    if isinstance(value, float):
        # A number compared as a number, as in MLflow's SQL: an integer column's lookup would
        # cut 1.5 to 1 (and fail on 1e400, infinity).
        value = Value(value, output_field=FloatField())
    if comparator == "!=":
        return ~Q(**{field: value}) & Q(**{f"{field}__isnull": False})
    if comparator == "NOT IN":
        return ~Q(**{f"{field}__in": value}) & Q(**{f"{field}__isnull": False})
    return Q(**{f"{field}__{_OPERATORS[comparator]}": value})


def _key_value_exists(model: Any, owner: str, clause: Clause) -> Q:
    """A clause on a (key, value) table: params, tags, latest metrics."""
    related = model.objects.filter(**{owner: OuterRef("pk"), "key": clause.key})
    if clause.comparator == "IS NULL":
        return ~Exists(related)
    if clause.comparator == "IS NOT NULL":
        return Exists(related)
    if model in (LatestMetric, LoggedModelMetric):
        # NaN compares false with everything except !=, as in MLflow.
        condition = _compare("value", clause.comparator, clause.value)
        if clause.comparator == "!=":
            condition = condition | Q(is_nan=True)
        else:
            condition = condition & Q(is_nan=False)
        return Exists(related.filter(condition))
    return Exists(related.filter(_compare("value", clause.comparator, clause.value)))


def _run_condition(clause: Clause) -> Q:
    if clause.kind == "metric":
        return _key_value_exists(LatestMetric, "run", clause)
    if clause.kind == "parameter":
        return _key_value_exists(Param, "run", clause)
    if clause.kind == "tag":
        return _key_value_exists(RunTag, "run", clause)
    if clause.kind == "dataset":
        if clause.key == "context":
            tags = InputTag.objects.filter(run_input__run=OuterRef("pk"), key=DATASET_CONTEXT_TAG)
            return Exists(tags.filter(_compare("value", clause.comparator, clause.value)))
        inputs = RunInput.objects.filter(run=OuterRef("pk"))
        return Exists(
            inputs.filter(_compare(f"dataset__{clause.key}", clause.comparator, clause.value))
        )
    return _compare(_RUN_ATTRIBUTE_FIELDS[clause.key], clause.comparator, clause.value)


def _ordering(
    queryset: QuerySet[Any],
    orders: Sequence[OrderKey],
    *,
    relations: dict[str, str],
    attribute_fields: dict[str, Any],
) -> tuple[QuerySet[Any], list[Any]]:
    """Annotations and ORDER BY terms for order keys; missing values sort last, then NaN.

    `relations` names the reverse relation of the (key, value) table of each entity kind.
    """
    terms: list[Any] = []
    for index, order in enumerate(orders):
        if order.kind == "attribute":
            expression = attribute_fields[order.key]
            expression = F(expression) if isinstance(expression, str) else expression
            terms.append(
                expression.asc(nulls_last=True)
                if order.ascending
                else expression.desc(nulls_last=True)
            )
            continue
        # One LEFT JOIN per order key: (owner, key) is unique in these tables, so the join
        # adds no rows, and it costs one pass where a correlated subquery ran several times
        # per row (the rank repeats it): 10,000 runs sort in ~25 ms instead of ~165 ms.
        relation = relations[order.kind]
        joined = f"_order_{index}_row"
        queryset = queryset.alias(
            **{joined: FilteredRelation(relation, condition=Q(**{f"{relation}__key": order.key}))}
        )
        value_name, rank_name = f"{joined}__value", f"_order_{index}_rank"
        annotations: dict[str, Any] = {}
        if order.kind == "metric":
            annotations[rank_name] = Case(
                When(**{f"{joined}__is_nan": True}, then=Value(1)),
                When(**{f"{value_name}__isnull": True}, then=Value(2)),
                default=Value(0),
                output_field=IntegerField(),
            )
        else:
            annotations[rank_name] = Case(
                When(**{f"{value_name}__isnull": True}, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        queryset = queryset.annotate(**annotations)
        terms.append(F(rank_name).asc())
        terms.append(F(value_name).asc() if order.ascending else F(value_name).desc())
    return queryset, terms


def _page(
    queryset: QuerySet[Any], max_results: int, page_token: str | None
) -> tuple[list[Any], str | None]:
    offset = decode_offset_token(page_token)
    rows = list(queryset[offset : offset + max_results + 1])
    if len(rows) > max_results:
        return rows[:max_results], encode_offset_token(offset + max_results)
    return rows, None


def runs_search(
    *,
    workspace: Workspace,
    experiment_pks: Sequence[int],
    filter_string: str = "",
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    order_by: Sequence[str] = (),
    max_results: int = 1000,
    page_token: str | None = None,
) -> tuple[list[Run], str | None]:
    """A page of the workspace's runs in the given experiments matching an MLflow filter."""
    validate_max_results(max_results)
    clauses = parse_filter(filter_string, RUNS)
    orders = parse_order_by(list(order_by), RUNS)
    queryset = Run.objects.filter(
        workspace=workspace,
        experiment_id__in=list(experiment_pks),
        lifecycle_stage__in=view_type.stages,
    ).select_related("experiment")
    for clause in clauses:
        queryset = queryset.filter(_run_condition(clause))
    queryset, terms = _ordering(
        queryset,
        orders,
        relations={"metric": "latest_metrics", "parameter": "params", "tag": "tags"},
        attribute_fields=_RUN_ATTRIBUTE_FIELDS,
    )
    if not any(o.kind == "attribute" and o.key == "start_time" for o in orders):
        terms.append(F("start_time").desc())
    terms.append(F("uuid").asc())
    runs, token = _page(queryset.order_by(*terms), max_results, page_token)
    for run in runs:
        run.workspace = workspace
    return runs, token


def _experiment_id_value(value: Any) -> Any:
    def one(item: str) -> int:
        if item == DEFAULT_EXPERIMENT_WIRE_ID:
            return 0
        try:
            pk = int(item)
        except ValueError:
            raise InvalidInput(
                f"Invalid experiment ID '{item}'. Experiment ID must be a valid integer."
            ) from None
        return pk if 0 <= pk <= INT64_MAX else -1  # "00" is 0 too, as MLflow's store reads it

    return tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)


_EXPERIMENT_WIRE_PK = Case(
    When(is_default=True, then=Value(0)), default=F("pk"), output_field=IntegerField()
)


def experiments_search(
    *,
    workspace: Workspace,
    filter_string: str = "",
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    order_by: Sequence[str] = (),
    max_results: int = 1000,
    page_token: str | None = None,
) -> tuple[list[Experiment], str | None]:
    validate_max_results(max_results)
    clauses = parse_filter(filter_string, EXPERIMENTS)
    orders = parse_order_by(
        list(order_by) or ["creation_time DESC", "experiment_id ASC"], EXPERIMENTS
    )
    queryset = Experiment.objects.filter(
        workspace=workspace, lifecycle_stage__in=view_type.stages
    ).annotate(_wire_pk=_EXPERIMENT_WIRE_PK)
    for clause in clauses:
        if clause.kind == "tag":
            queryset = queryset.filter(_key_value_exists(ExperimentTag, "experiment", clause))
        elif clause.key == "experiment_id":
            value = _experiment_id_value(clause.value)
            queryset = queryset.filter(_compare("_wire_pk", clause.comparator, value))
        else:
            queryset = queryset.filter(_compare(clause.key, clause.comparator, clause.value))
    fields = {
        "name": "name",
        "experiment_id": "_wire_pk",
        "creation_time": "creation_time",
        "last_update_time": "last_update_time",
    }
    queryset, terms = _ordering(queryset, orders, relations={}, attribute_fields=fields)
    if not any(o.key == "experiment_id" for o in orders):
        terms.append(F("_wire_pk").desc())
    experiments, token = _page(queryset.order_by(*terms), max_results, page_token)
    return experiments, token


@dataclass(frozen=True)
class LoggedModelOrder:
    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


_MODEL_ATTRIBUTE_FIELDS = {
    "model_id": "model_id",
    "name": "name",
    "status": "status",
    "model_type": "model_type",
    "source_run_id": "source_run_id",
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}


def logged_models_search(
    *,
    workspace: Workspace,
    experiment_pks: Sequence[int],
    filter_string: str = "",
    datasets: Sequence[tuple[str, str | None]] = (),
    order_by: Sequence[LoggedModelOrder] = (),
    max_results: int = 100,
    page_token: str | None = None,
) -> tuple[list[LoggedModel], str | None]:
    validate_max_results(max_results)
    clauses = parse_filter(filter_string, LOGGED_MODELS)
    queryset = (
        LoggedModel.objects.filter(workspace=workspace, experiment_id__in=list(experiment_pks))
        .exclude(lifecycle_stage=LifecycleStage.DELETED)
        .select_related("experiment")
    )
    dataset_filter = Q()
    for name, digest in datasets:
        dataset_filter |= Q(dataset_name=name, **({"dataset_digest": digest} if digest else {}))
    if datasets and not any(clause.kind == "metric" for clause in clauses):
        # As MLflow: with no metric condition, the models with any metric on those datasets.
        on_datasets = LoggedModelMetric.objects.filter(model=OuterRef("pk")).filter(dataset_filter)
        queryset = queryset.filter(Exists(on_datasets))
    for clause in clauses:
        if clause.kind == "metric":
            metrics = LoggedModelMetric.objects.filter(
                model=OuterRef("pk"), key=clause.key, is_nan=False
            ).filter(dataset_filter)
            queryset = queryset.filter(
                Exists(metrics.filter(_compare("value", clause.comparator, clause.value)))
            )
        elif clause.kind == "parameter":
            queryset = queryset.filter(_key_value_exists(LoggedModelParam, "model", clause))
        elif clause.kind == "tag":
            queryset = queryset.filter(_key_value_exists(LoggedModelTag, "model", clause))
        elif clause.key == "experiment_id":
            value = _experiment_id_value(clause.value)
            queryset = queryset.annotate(
                _exp_wire_pk=Case(
                    When(experiment__is_default=True, then=Value(0)),
                    default=F("experiment_id"),
                    output_field=IntegerField(),
                )
            ).filter(_compare("_exp_wire_pk", clause.comparator, value))
        else:
            queryset = queryset.filter(
                _compare(_MODEL_ATTRIBUTE_FIELDS[clause.key], clause.comparator, clause.value)
            )
    terms: list[Any] = []
    for index, order in enumerate(order_by):
        (key,) = parse_order_by([order.field_name], LOGGED_MODELS)
        if key.kind == "attribute":
            field = F(_MODEL_ATTRIBUTE_FIELDS[key.key])
        else:
            table = {
                "metric": LoggedModelMetric,
                "parameter": LoggedModelParam,
                "tag": LoggedModelTag,
            }[key.kind]
            related = table.objects.filter(model=OuterRef("pk"), key=key.key)
            if key.kind == "metric" and order.dataset_name:
                related = related.filter(dataset_name=order.dataset_name)
                if order.dataset_digest:
                    related = related.filter(dataset_digest=order.dataset_digest)
            if key.kind == "metric":
                related = related.order_by("-timestamp", "-step")
            name = f"_order_{index}"
            queryset = queryset.annotate(**{name: Subquery(related.values("value")[:1])})
            field = F(name)
        terms.append(field.asc(nulls_last=True) if order.ascending else field.desc(nulls_last=True))
    terms += [F("creation_timestamp_ms").desc(), F("model_id").asc()]
    return _page(queryset.order_by(*terms), max_results, page_token)
