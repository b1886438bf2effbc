"""SQL LIKE and ILIKE with MLflow's meaning (LIKE case-sensitive, `%` and `_` wildcards) on
every supported database. SQLite's LIKE ignores case, so there LIKE runs as GLOB.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Lookup, TextField


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
        # SQLite's LIKE is case-insensitive for ASCII; lower() both sides for the rest.
        return f"lower({lhs}) LIKE lower({rhs})", [*lhs_params, *rhs_params]


@CharField.register_lookup
@TextField.register_lookup
class ContainsText(Lookup):
    """Case-insensitive substring match of literal text (no wildcards), for finding by name.

    On PostgreSQL it is `ILIKE '%text%'`, which a trigram (pg_trgm) index answers; SQLite
    compares lowercased text.
    """

    lookup_name = "contains_text"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        escaped = [
            "%" + str(p).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for p in rhs_params
        ]
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *escaped]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        lowered = [str(p).lower() for p in rhs_params]
        return f"instr(lower({lhs}), {rhs}) > 0", [*lhs_params, *lowered]
