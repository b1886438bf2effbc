"""The window that answers broad searches by name gives exactly the full ranking."""

from __future__ import annotations

import random

import pytest

from experiments.models import Experiment
from experiments.selectors import name_search
from experiments.selectors.name_search import ranked_experiment_ids
from experiments.services.experiments import experiment_delete
from tests.factories import make_experiment, make_workspace

pytestmark = pytest.mark.django_db

WORDS = ["bert", "Bert", "vit", "resnet", "loss", "lossy", "gpt", "É", "école", "x", "a_b"]
SEPARATORS = ["-", "_", ".", "/", ":", " ", ""]


def rank_by_hand(text: str, experiments: list[Experiment]) -> list[int]:
    """The ranking as the docstrings define it, computed in Python."""
    lowered = text.lower()
    ranked = []
    for experiment in experiments:
        name = experiment.name
        pos = name.lower().find(lowered) + 1
        if pos == 0:
            continue
        if pos == 1:
            closeness = 0 if len(name) == len(text) else 1
        elif name[pos - 2] in " -_./:":
            closeness = 2
        else:
            closeness = 3
        activity = experiment.last_run_time or experiment.creation_time
        ranked.append(((closeness, -activity, -experiment.pk), experiment.pk))
    return [pk for _, pk in sorted(ranked)]


@pytest.fixture
def names() -> tuple[list[int], list[Experiment]]:
    """70 experiments in two workspaces, names of random words, activity with ties."""
    generator = random.Random(7)
    first, second = make_workspace(), make_workspace()
    made: set[tuple[int, str]] = set()
    while len(made) < 70:
        words = generator.choices(WORDS, k=generator.randint(1, 3))
        name = "".join(word + generator.choice(SEPARATORS) for word in words).strip() or "x"
        workspace = generator.choice([first, second])
        if (workspace.pk, name) in made:
            continue
        made.add((workspace.pk, name))
        experiment = make_experiment(workspace, name)
        activity = generator.choice([None, 1_000, 2_000, generator.randint(1, 10**6)])
        Experiment.objects.filter(pk=experiment.pk).update(
            last_run_time=activity, creation_time=generator.choice([500, 1_500])
        )
    for experiment in generator.sample(
        list(Experiment.objects.filter(name__in=[n for _, n in made])), 5
    ):
        experiment_delete(experiment=experiment)
    active = list(
        Experiment.objects.filter(workspace__in=[first, second], lifecycle_stage="active")
    )
    return [first.pk, second.pk], active


@pytest.mark.parametrize("window", [1, 3, 8, 25, 1000])
def test_every_window_gives_the_full_ranking(names, window, monkeypatch) -> None:  # noqa: ANN001
    workspace_ids, experiments = names
    monkeypatch.setattr(name_search, "WINDOW", window)
    texts = {"b", "bert", "BERT", "vit", "loss", "é", "ÉCOLE", "_", "-", "t-", "zzz", "x", "a_b"}
    texts |= {experiment.name for experiment in experiments[:10]}
    for text in sorted(texts):
        for limit in (1, 5, 20):
            expected = rank_by_hand(text, experiments)[:limit]
            found = ranked_experiment_ids(text=text, workspace_ids=workspace_ids, limit=limit)
            assert found == expected, (text, limit)


def test_a_broad_search_is_answered_from_the_window(monkeypatch, django_assert_num_queries) -> None:  # noqa: ANN001
    workspace = make_workspace()
    for index in range(30):
        make_experiment(workspace, f"exp-bert-{index:03d}")
    make_experiment(workspace, "rare-bert-but-long-name")
    monkeypatch.setattr(name_search, "WINDOW", 10)
    # the window's ranking, then: does any name outside it start with the text? (none does)
    with django_assert_num_queries(2):
        found = ranked_experiment_ids(text="bert", workspace_ids=[workspace.pk], limit=5)
    experiments = list(Experiment.objects.filter(workspace=workspace))
    assert found == rank_by_hand("bert", experiments)[:5]


@pytest.mark.parametrize(
    ("text", "old_name", "closer"),
    [
        ("EXP-BERT", "exp-bert", "the whole name"),
        ("bert", "bert-old", "a prefix"),
        ("ert", "old-ert", "a word start"),
    ],
)
def test_a_closer_match_older_than_the_window_is_found(text, old_name, closer, monkeypatch) -> None:  # noqa: ANN001
    workspace = make_workspace()
    older = make_experiment(make_workspace(group=workspace.resource_group), old_name)
    Experiment.objects.filter(pk=older.pk).update(creation_time=1)
    for index in range(30):
        make_experiment(workspace, f"exp-bert-{index:03d}")
    monkeypatch.setattr(name_search, "WINDOW", 10)
    found = ranked_experiment_ids(
        text=text, workspace_ids=[workspace.pk, older.workspace_id], limit=5
    )
    assert found[0] == older.pk, closer


def test_equally_active_experiments_outside_the_window_count_too(monkeypatch) -> None:  # noqa: ANN001
    workspace = make_workspace()
    prefix = make_experiment(workspace, "bert-first")  # the lowest id: last in the window order
    for index in range(30):
        make_experiment(workspace, f"exp-bert-{index:03d}")
    Experiment.objects.filter(workspace=workspace).update(creation_time=5, last_run_time=None)
    monkeypatch.setattr(name_search, "WINDOW", 10)
    found = ranked_experiment_ids(text="bert", workspace_ids=[workspace.pk], limit=3)
    assert found[0] == prefix.pk


def test_a_later_word_start_does_not_make_a_name_closer(monkeypatch) -> None:  # noqa: ANN001
    # "xbert-bert" first matches inside a word (closeness 3) though "bert" also starts a word
    monkeypatch.setattr(name_search, "WINDOW", 1)
    workspace = make_workspace()
    for index in range(3):
        make_experiment(workspace, f"xbert-bert-{index}")
    make_experiment(workspace, "ybert-old")
    newest = make_experiment(workspace, "zbert-new")
    experiments = list(Experiment.objects.filter(workspace=workspace))
    found = ranked_experiment_ids(text="bert", workspace_ids=[workspace.pk], limit=1)
    assert found == rank_by_hand("bert", experiments)[:1] == [newest.pk]
