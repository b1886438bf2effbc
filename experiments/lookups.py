"""SQL LIKE and ILIKE with MLflow's meaning (LIKE case-sensitive, `%` and `_` wildcards) on
every supported database. SQLite's LIKE ignores case, so there LIKE runs as GLOB; SQLite's
case folding only knows ASCII, so ILIKE lowers both sides with Python's str.lower. Also the
SQLite functions and the LIKE escaping that the search by name uses.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import CharField, Lookup, TextField

SQLITE_LOWER = "portal_lower"
SQLITE_STARTS_A_WORD = "portal_starts_a_word"
# What starts a word in a name, for the search by name (selectors/name_search.py).
WORD_SEPARATORS = (" ", "-", "_", ".", "/", ":")


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _starts_a_word(name: str | None, lowered: str) -> bool:
    """Whether lowered text starts `name` or follows a separator in it (in any case)."""
    if name is None:
        return False
    name = name.lower()
    return name.startswith(lowered) or any(s + lowered in name for s in WORD_SEPARATORS)


def register_sqlite_functions(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)
        connection.connection.create_function(
            SQLITE_STARTS_A_WORD, 2, _starts_a_word, deterministic=True
        )


connection_created.connect(register_sqlite_functions)


def like_escaped(text: str) -> str:
    """Literal text for a LIKE pattern: its `%`, `_` and backslashes escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_to_glob(pattern: str) -> str:
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


class _PatternLookup(Lookup):
    operator = "LIKE"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} {self.operator} {rhs}", [*lhs_params, *rhs_params]


@CharField.register_lookup
@TextField.register_lookup
class Like(_PatternLookup):
    lookup_name = "like"

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        rhs_params = [like_to_glob(str(param)) for param in rhs_params]
        return f"{lhs} GLOB {rhs}", [*lhs_params, *rhs_params]


@CharField.register_lookup
@TextField.register_lookup
class ILike(_PatternLookup):
    lookup_name = "ilike"
    operator = "ILIKE"

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # SQLite's own lower() and LIKE fold ASCII only ('É' would not match 'é').
        sql = f"{SQLITE_LOWER}({lhs}) LIKE {SQLITE_LOWER}({rhs})"
        return sql, [*lhs_params, *rhs_params]
