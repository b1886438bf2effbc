"""Ranking experiments found by part of their name, fast whether few or most names match.

A match ranks by closeness, then by last activity, newest first (then the newest id first).
Closeness is the whole name (0), a prefix (1), the start of a word (2) or anywhere else (3).

Ranking every match reads as many rows as match: a few letters that most of 100,000 names
contain took 40-130 ms. So the search first looks at a window: the WINDOW most recently active
experiments, which an index yields in that order. Every experiment outside the window is older
than every one inside, so the window's best hits are the answer when it holds enough of them
and nothing outside it is closer than the last of those:

- the last is a whole-name match: nothing can be closer;
- it is a prefix match: no older name equals the text (an index lookup);
- it is a word-start match: no older name starts with the text (an index lookup);
- it matches anywhere: no older name has a word that starts with the text (trigram lookups);
- with too few hits in the window, or a closer match outside it, every match is ranked
  (`_ranked_fully`; on PostgreSQL the trigram indexes find them).

A broad search is then answered from the window in a few ms, and a narrow one pays the
window's few ms on top of ranking its few matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections

from experiments.choices import LifecycleStage
from experiments.lookups import (
    SQLITE_LOWER,
    SQLITE_STARTS_A_WORD,
    WORD_SEPARATORS,
    like_escaped,
)
from experiments.models import Experiment

# How many experiments the window holds: enough for a word that one name in a hundred
# contains to fill a page of hits, few enough to read in a couple of ms.
WINDOW = 2000

_TABLE = Experiment._meta.db_table
_ACTIVITY = "COALESCE(last_run_time, creation_time)"
# Closeness of a row with match position `pos` (1-based) and name length `len`.
_CLOSENESS = f"""CASE WHEN pos = 1 THEN CASE WHEN len = %s THEN 0 ELSE 1 END
    WHEN SUBSTR(name, pos - 1, 1) IN ({", ".join(f"'{s}'" for s in WORD_SEPARATORS)}) THEN 2
    ELSE 3 END"""
_RANK_ORDER = "closeness, activity DESC, id DESC"


@dataclass(frozen=True)
class _Dialect:
    """How a database matches lowered text in a name. Each method gives SQL and parameters."""

    postgresql: bool

    @property
    def fence(self) -> str:
        """Ends a subquery that PostgreSQL must plan on its own rather than merge."""
        return " OFFSET 0" if self.postgresql else ""

    def contains(self, lowered: str) -> tuple[str, list[object]]:
        if self.postgresql:  # the trigram index on the stored lower-cased name (0007)
            return "name_lower LIKE %s", [f"%{like_escaped(lowered)}%"]
        # SQLite's lower() folds ASCII only: names are lowered by Python (experiments.lookups).
        return f"instr({SQLITE_LOWER}(name), %s) > 0", [lowered]

    def position(self, lowered: str) -> tuple[str, list[object]]:
        if self.postgresql:
            return "STRPOS(name_lower, %s)", [lowered]
        return f"instr({SQLITE_LOWER}(name), %s)", [lowered]

    def equals(self, lowered: str) -> tuple[str, list[object]]:
        if self.postgresql:  # the text_pattern_ops index (0008)
            return "name_lower = %s", [lowered]
        return f"{SQLITE_LOWER}(name) = %s", [lowered]

    def starts(self, lowered: str) -> tuple[str, list[object]]:
        if self.postgresql:  # the text_pattern_ops index (0008)
            return "name_lower LIKE %s", [f"{like_escaped(lowered)}%"]
        return f"instr({SQLITE_LOWER}(name), %s) = 1", [lowered]

    def starts_a_word(self, lowered: str) -> tuple[str, list[object]]:
        """A prefix, or the text right after a separator anywhere in the name."""
        if not self.postgresql:  # one call of Python per name rather than seven
            return f"{SQLITE_STARTS_A_WORD}(name, %s)", [lowered]
        parts, params = [], []
        for sql, part_params in [
            self.starts(lowered),
            *(self.contains(separator + lowered) for separator in WORD_SEPARATORS),
        ]:
            parts.append(sql)
            params += part_params
        return "(" + " OR ".join(parts) + ")", params


@dataclass(frozen=True)
class _Search:
    text: str
    workspace_ids: Sequence[int]
    limit: int
    dialect: _Dialect

    @property
    def lowered(self) -> str:
        return self.text.lower()

    def scope(self) -> tuple[str, list[object]]:
        # The stage is written out, not a parameter, so that SQLite sees that the partial
        # indexes on active experiments apply (PostgreSQL gets parameters inlined anyway).
        marks = ", ".join(["%s"] * len(self.workspace_ids))
        return (
            f"lifecycle_stage = '{LifecycleStage.ACTIVE.value}' AND workspace_id IN ({marks})",
            list(self.workspace_ids),
        )

    def columns(self) -> tuple[str, list[object]]:
        """The experiments in scope, with the columns the ranking reads."""
        scope, params = self.scope()
        return (
            f"SELECT id, name, name_lower, LENGTH(name) AS len, {_ACTIVITY} AS activity "
            f"FROM {_TABLE} WHERE {scope}",
            params,
        )

    def ranked(self, source: str, source_params: Sequence[object] = ()) -> tuple[str, list]:
        """The ranking of the matching rows of `source` (rows as columns() gives them)."""
        position, position_params = self.dialect.position(self.lowered)
        contains, contains_params = self.dialect.contains(self.lowered)
        # The fence keeps PostgreSQL from inlining the subquery and computing the match
        # position again for each use in the sort key.
        sql = (
            f"SELECT id, activity, {_CLOSENESS} AS closeness FROM ("
            f"SELECT id, name, len, activity, {position} AS pos FROM {source} "
            f"WHERE {contains}{self.dialect.fence}) AS hit ORDER BY {_RANK_ORDER} LIMIT %s"
        )
        params = [
            len(self.text),
            *position_params,
            *source_params,
            *contains_params,
            self.limit,
        ]
        return sql, params


def ranked_experiment_ids(*, text: str, workspace_ids: Sequence[int], limit: int) -> list[int]:
    """The ids of the `limit` best matches of `text` among the active experiments of the
    workspaces, best first (see the module's docstring)."""
    connection = connections[Experiment.objects.db]
    search = _Search(text, workspace_ids, limit, _Dialect(connection.vendor == "postgresql"))
    with connection.cursor() as cursor:
        ranked = _ranked_in_window(cursor, search)
        if ranked is None:
            ranked = _ranked_fully(cursor, search)
    return ranked


def _ranked_in_window(cursor: Any, search: _Search) -> list[int] | None:
    """The answer from the window, or None when the window cannot tell it."""
    columns, columns_params = search.columns()
    ranked, ranked_params = search.ranked("win")
    cursor.execute(
        f"WITH win AS ({columns} ORDER BY {_ACTIVITY} DESC, id DESC LIMIT %s) "
        "SELECT top.id, top.closeness, (SELECT COUNT(*) FROM win), oldest.activity, oldest.id "
        f"FROM ({ranked}) AS top CROSS JOIN "
        "(SELECT activity, id FROM win ORDER BY activity, id LIMIT 1) AS oldest "
        "ORDER BY top.closeness, top.activity DESC, top.id DESC",
        [*columns_params, WINDOW, *ranked_params],
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    ids = [row[0] for row in rows]
    window_size, activity, last_id = rows[0][2:]
    if window_size < WINDOW:
        return ids  # the window holds every experiment in scope
    if len(rows) < search.limit:
        return None
    closer = {
        0: None,
        1: search.dialect.equals,
        2: search.dialect.starts,
        3: search.dialect.starts_a_word,
    }[rows[-1][1]]
    if closer is not None and _older_one_matches(cursor, search, closer, activity, last_id):
        return None
    return ids


def _older_one_matches(
    cursor: Any, search: _Search, condition: Any, activity: int, last_id: int
) -> bool:
    """Whether an experiment older than the window's oldest (by activity, then id) meets
    `condition` (a _Dialect method)."""
    scope, scope_params = search.scope()
    sql, params = condition(search.lowered)
    # Fenced (OFFSET 0), the matching rows are planned on their own: under LIMIT 1,
    # PostgreSQL would scan the table in the hope of an early hit (60 ms when there is none)
    # rather than ask the indexes (under 1 ms).
    cursor.execute(
        f"SELECT 1 FROM (SELECT id, {_ACTIVITY} AS activity FROM {_TABLE} "
        f"WHERE {scope} AND {sql}{search.dialect.fence}) AS matching "
        "WHERE activity < %s OR (activity = %s AND id < %s) LIMIT 1",
        [*scope_params, *params, activity, activity, last_id],
    )
    return cursor.fetchone() is not None


def _ranked_fully(cursor: Any, search: _Search) -> list[int]:
    """Every match ranked, in two steps. First the names where the text starts a word: they
    hold every match of closeness 0-2, which rank before all others, so a page of those is
    the answer (two letters in nearly every name, `00`: 27 ms instead of 45). A name whose
    first match is inside a word and a later one starts a word is among them with closeness
    3, and a page that reaches closeness 3 needs the second step: all matches."""
    columns, columns_params = search.columns()
    words, words_params = search.dialect.starts_a_word(search.lowered)
    ranked, params = search.ranked(
        f"({columns} AND {words}) AS candidate", [*columns_params, *words_params]
    )
    cursor.execute(ranked, params)
    rows = cursor.fetchall()
    if len(rows) < search.limit or rows[-1][2] > 2:
        ranked, params = search.ranked(f"({columns}) AS candidate", columns_params)
        cursor.execute(ranked, params)
        rows = cursor.fetchall()
    return [row[0] for row in rows]
