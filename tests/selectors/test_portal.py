"""Finding experiments by name, and what pages may see."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from experiments.choices import ContainerState
from experiments.errors import InvalidInput
from experiments.models import Experiment, ResourceGroup, Workspace
from experiments.selectors.portal import experiment_search, visible_workspaces
from experiments.services.experiments import experiment_delete
from experiments.services.runs import run_delete
from tests.factories import make_experiment, make_group, make_run, make_workspace

pytestmark = pytest.mark.django_db
# Sees every workspace (what members see is tests/test_access_matrix.py's subject).
USER = User(username="admin", is_superuser=True)


def names(query: str, **kwargs: object) -> list[str]:
    return [hit.experiment.name for hit in experiment_search(user=USER, query=query, **kwargs)]


def test_ranked_by_closeness_then_by_last_activity() -> None:
    # given: matches of every kind in two workspaces, active at known times
    first, second = make_workspace(), make_workspace()
    created = {"xlossy": 60, "my-loss": 70, "loss-curve": 30, "Loss": 1, "unrelated": 80}
    created["lossy"] = 10
    for name, creation_time in created.items():
        experiment = make_experiment(first, name)
        Experiment.objects.filter(pk=experiment.pk).update(creation_time=creation_time)
    make_run(make_experiment(second, "loss-eval"), start_time=40)
    make_run(make_experiment(second, "loss-test"), start_time=50)
    # when / then: the whole name, prefixes (newest first), a word start, anywhere
    assert names("LOSS") == [
        "Loss",
        "loss-test",
        "loss-eval",
        "loss-curve",
        "lossy",
        "my-loss",
        "xlossy",
    ]


def test_hits_tell_workspace_run_count_last_run_and_match() -> None:
    workspace = make_workspace()
    experiment = make_experiment(workspace, "Vision-ResNet")
    make_run(experiment, start_time=5_000)
    make_run(experiment, start_time=3_000)
    run_delete(run=make_run(experiment, start_time=1_000))  # not counted
    (hit,) = experiment_search(user=USER, query="resnet")
    assert hit.workspace == workspace
    assert hit.workspace.resource_group == workspace.resource_group
    assert hit.run_count == 2
    assert hit.experiment.last_run_time == 5_000
    assert hit.name_parts == ("Vision-", "ResNet", "")


def test_wildcards_are_plain_text() -> None:
    workspace = make_workspace()
    make_experiment(workspace, "a_b")
    make_experiment(workspace, "axb")
    make_experiment(workspace, "100% done")
    assert names("a_b") == ["a_b"]
    assert names("%") == ["100% done"]
    assert names("   ") == []


def test_case_is_ignored_beyond_ascii() -> None:
    workspace = make_workspace()
    make_experiment(workspace, "ÉCOLE-Ümlaut-run")
    make_experiment(workspace, "ecole-plain")
    assert names("école") == ["ÉCOLE-Ümlaut-run"]
    assert names("ümlaut") == ["ÉCOLE-Ümlaut-run"]
    assert names("ECOLE") == ["ecole-plain"]


def test_closeness_beyond_ascii() -> None:
    workspace = make_workspace()
    make_experiment(workspace, "zz-Über-eval")
    make_experiment(workspace, "Über-training-run")
    # a prefix ranks before a word start, also where only a non-ASCII fold makes it match
    assert names("über") == ["Über-training-run", "zz-Über-eval"]


def test_nothing_visible_finds_nothing() -> None:
    make_experiment(make_workspace(), "secret-exp")
    assert experiment_search(user=User(username="outsider"), query="secret") == []


def test_scoped_to_a_workspace() -> None:
    first, second = make_workspace(), make_workspace()
    make_experiment(first, "shared-name")
    make_experiment(second, "shared-name")
    hits = experiment_search(user=USER, query="shared", workspace=second)
    assert [hit.workspace for hit in hits] == [second]


def test_deleted_experiments_and_deleting_containers_are_hidden() -> None:
    kept = make_workspace()
    make_experiment(kept, "visible-exp")
    experiment_delete(experiment=make_experiment(kept, "deleted-exp"))
    leaving = make_workspace()
    make_experiment(leaving, "leaving-exp")
    Workspace.objects.filter(pk=leaving.pk).update(state=ContainerState.DELETING)
    group = make_group()
    make_experiment(make_workspace(group=group), "group-leaving-exp")
    ResourceGroup.objects.filter(pk=group.pk).update(state=ContainerState.DELETING)
    assert names("exp") == ["visible-exp"]
    assert set(visible_workspaces(USER)) == {kept, *Workspace.objects.filter(name="default")}


def test_too_long_search_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="too long"):
        experiment_search(user=USER, query="x" * 201)


def test_run_create_keeps_the_newest_run_start() -> None:
    experiment = make_experiment(make_workspace())
    make_run(experiment, start_time=2_000)
    make_run(experiment, start_time=1_000)  # backdated: does not move it back
    experiment.refresh_from_db()
    assert experiment.last_run_time == 2_000
    assert Experiment.objects.get(pk=experiment.pk).last_run_time == 2_000


def test_search_query_count_does_not_grow_with_hits(django_assert_num_queries) -> None:  # noqa: ANN001
    workspace = make_workspace()
    make_run(make_experiment(workspace, "one-exp"))
    # the visible workspaces; the hits ranked (a window holding every experiment here); the
    # hits with their workspace, group and run count
    with django_assert_num_queries(3):
        experiment_search(user=USER, query="one-exp")
    for index in range(5):
        make_run(make_experiment(workspace, f"many-exp-{index}"))
    with django_assert_num_queries(3):
        assert len(experiment_search(user=USER, query="exp")) == 6
