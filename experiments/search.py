"""MLflow's search grammar: filter strings and order_by clauses for runs, experiments and
logged models.

    metrics.accuracy > 0.9 AND params.`learning rate` = '0.01' AND tags.team LIKE 'vision%'
    attributes.status != 'FAILED' AND run_id IN ('a1', 'b2') AND datasets.context = 'training'

The grammar and the meaning of every clause follow `mlflow.utils.search_utils` (tests compare
the two on a corpus of filters). It is parsed here rather than by importing MLflow's parser:
any `mlflow` import loads the whole client (pandas, numpy, pyarrow: about 200 MB and a second
per server process), and the portal's pages need the same parser with plain-language errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from experiments.errors import InvalidInput

Kind = Literal["metric", "parameter", "tag", "attribute", "dataset"]

_ENTITY_ALIASES: dict[str, Kind] = {
    "metric": "metric",
    "metrics": "metric",
    "parameter": "parameter",
    "parameters": "parameter",
    "param": "parameter",
    "params": "parameter",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}
NUMERIC_COMPARATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_COMPARATORS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NULL_COMPARATORS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_COMPARATORS = frozenset({"IN", "NOT IN"})

# Conditions in one filter, and fields in one order_by. MLflow sets no limit, but each adds a
# subquery, and PostgreSQL's planning time grows much faster than their number: 0.3 s at 20
# conditions, seconds at 40, and at a few hundred a backend that grew until the kernel killed it.
MAX_CLAUSES = 20
# An integer of more digits is compared as a float: none fits a 64-bit column, and int()
# refuses more than 4,300 digits.
_INT_DIGITS_MAX = 19


def _ends_in_escape(pattern: str) -> bool:
    """Whether a LIKE pattern ends with an unpaired escape character, which the database
    refuses ("LIKE pattern must not end with escape character")."""
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter: `<kind>.<key> <comparator> <value>`."""

    kind: Kind
    key: str
    comparator: str
    value: str | float | int | tuple[str, ...] | None


@dataclass(frozen=True)
class OrderKey:
    kind: Kind
    key: str
    ascending: bool


@dataclass(frozen=True)
class Dialect:
    """What one kind of search accepts: entity kinds, attribute keys and their types."""

    name: str
    kinds: frozenset[str]
    string_attributes: frozenset[str]
    numeric_attributes: frozenset[str]
    list_attributes: frozenset[str]
    attribute_aliases: dict[str, str]
    order_kinds: frozenset[str]
    order_attributes: frozenset[str]
    # Entity prefixes accepted (None: every alias of an accepted kind).
    entity_names: frozenset[str] | None = None
    # Aliases accepted in order_by (None: those of filters); MLflow keeps them narrower.
    order_attribute_aliases: dict[str, str] | None = None
    # Attributes compared with fewer comparators than their type allows.
    attribute_comparators: dict[str, frozenset[str]] | None = None
    # Numeric attributes that only take integer literals.
    integer_attributes: frozenset[str] = frozenset()
    # Entity kinds whose values can be compared with a list (IN, NOT IN), besides
    # list_attributes.
    list_kinds: frozenset[str] = frozenset()


RUNS = Dialect(
    name="runs",
    kinds=frozenset({"metric", "parameter", "tag", "attribute", "dataset"}),
    string_attributes=frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"}),
    numeric_attributes=frozenset({"start_time", "end_time"}),
    list_attributes=frozenset({"run_id"}),
    list_kinds=frozenset({"dataset"}),
    attribute_aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
    order_kinds=frozenset({"metric", "parameter", "tag", "attribute"}),
    order_attributes=frozenset(
        {"run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"}
    ),
    order_attribute_aliases={"created": "start_time", "Created": "start_time"},
)
EXPERIMENTS = Dialect(
    name="experiments",
    kinds=frozenset({"tag", "attribute"}),
    string_attributes=frozenset({"name", "experiment_id"}),
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    list_attributes=frozenset({"experiment_id"}),
    attribute_aliases={},
    order_kinds=frozenset({"attribute"}),
    order_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    entity_names=frozenset({"attribute", "tag", "tags"}),
    # experiment_id is an integer column matched by identity, as in MLflow's store.
    attribute_comparators={"experiment_id": frozenset({"=", "!=", "IN", "NOT IN"})},
    integer_attributes=frozenset({"creation_time", "last_update_time"}),
)
LOGGED_MODELS = Dialect(
    name="logged models",
    kinds=frozenset({"metric", "parameter", "tag", "attribute"}),
    string_attributes=frozenset(
        {"model_id", "name", "status", "model_type", "source_run_id", "experiment_id"}
    ),
    numeric_attributes=frozenset({"creation_timestamp", "last_updated_timestamp"}),
    list_attributes=frozenset({"model_id", "name", "source_run_id", "status", "model_type"}),
    # MLflow's store takes lists for every string key of a logged model, params and tags too.
    list_kinds=frozenset({"parameter", "tag"}),
    # An integer column matched by identity (not a MLflow key: the portal's addition).
    attribute_comparators={"experiment_id": frozenset({"=", "!="})},
    attribute_aliases={
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
    },
    order_kinds=frozenset({"metric", "parameter", "tag", "attribute"}),
    order_attributes=frozenset(
        {
            "model_id",
            "name",
            "status",
            "model_type",
            "source_run_id",
            "creation_timestamp",
            "last_updated_timestamp",
        }
    ),
)

# Possessive quantifiers (++, *+, ?+) in the number: a long run of digits that does not end a
# number ("123...9x") is refused in one pass, not retried at every split (quadratic).
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<string>'[^']*'(?:'[^']*')*)
    | (?P<number>-?(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?\d++)?+(?![\w.]))
    | (?P<ident>(?:`[^`]*`|[A-Za-z_][\w]*)(?:\.(?:`[^`]*`|"[^"]*"|'[^']*'|[\w]+))*)
    | (?P<dqstring>"[^"]*")
    | (?P<op>!=|>=|<=|=|<|>)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"}


@dataclass
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise InvalidInput(
                f"Could not read the filter at character {position + 1}: "
                f"'{text[position : position + 20]}'."
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            value = match.group()
            if kind == "ident" and value.upper() in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, value, position))
        position = match.end()
    return tokens


def _unquote(part: str) -> str:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "`\"'":
        return part[1:-1]
    return part


def _identifier(text: str, dialect: Dialect, *, ordering: bool = False) -> tuple[Kind, str]:
    """(kind, key) of an identifier such as `metrics.acc`, `params."a b"` or `status`."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '`"' and text.count(text[0]) == 2:
        entity, key = "attribute", text[1:-1]
    elif "." in text:
        head, _, rest = text.partition(".")
        entity, key = _unquote(head), _unquote(rest)
    else:
        entity, key = "attribute", text
    kinds = dialect.order_kinds if ordering else dialect.kinds
    kind = _ENTITY_ALIASES.get(entity)
    if dialect.entity_names is not None and entity not in dialect.entity_names:
        kind = None
    if kind is None or kind not in kinds:
        valid = ", ".join(sorted(kinds))
        raise InvalidInput(
            f"Invalid entity type '{entity}' in '{text}'. Searching {dialect.name} accepts: "
            f"{valid}."
        )
    if kind == "attribute":
        aliases = dialect.attribute_aliases
        if ordering and dialect.order_attribute_aliases is not None:
            aliases = dialect.order_attribute_aliases
        key = aliases.get(key, key)
        allowed = (
            dialect.order_attributes
            if ordering
            else (dialect.string_attributes | dialect.numeric_attributes)
        )
        if key not in allowed:
            raise InvalidInput(
                f"Invalid attribute key '{key}' specified. Valid keys are "
                f"{', '.join(sorted(allowed))}."
            )
    if kind == "dataset" and key not in {"name", "digest", "context"}:
        raise InvalidInput(
            f"Invalid dataset key '{key}' specified. Valid keys are context, digest, name."
        )
    if not key:
        raise InvalidInput(f"The identifier '{text}' names no key.")
    return kind, key  # type: ignore[return-value]


class _Parser:
    def __init__(self, text: str, dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidInput(f"The filter '{self.text}' ends too early: a value is missing.")
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "keyword" and token.text.upper() in words:
            self.index += 1
            return True
        return False

    def parse(self) -> list[Clause]:
        clauses = [self.comparison()]
        while self.peek() is not None:
            token = self.take()
            if token.kind == "keyword" and token.text.upper() == "AND":
                if len(clauses) == MAX_CLAUSES:
                    raise InvalidInput(
                        f"A filter can join at most {MAX_CLAUSES} conditions with AND."
                    )
                clauses.append(self.comparison())
                continue
            if token.kind == "keyword" and token.text.upper() == "OR":
                raise InvalidInput(
                    "OR is not supported: a filter is a list of conditions joined by AND."
                )
            raise InvalidInput(
                f"Expected AND between conditions, found '{token.text}' at character "
                f"{token.position + 1}."
            )
        return clauses

    def comparison(self) -> Clause:
        token = self.take()
        if token.kind == "lparen":
            raise InvalidInput("Parentheses are not supported: join conditions with AND.")
        if token.kind not in ("ident", "dqstring"):
            raise InvalidInput(
                f"Expected a name such as metrics.<key>, params.<key>, tags.<key> or an "
                f"attribute at character {token.position + 1}, found '{token.text}'."
            )
        kind, key = _identifier(token.text, self.dialect)
        comparator = self.comparator()
        value = self.value(kind, key, comparator)
        return Clause(kind, key, comparator, value)

    def comparator(self) -> str:
        if self.keyword("IS"):
            if self.keyword("NOT"):
                if self.keyword("NULL"):
                    return "IS NOT NULL"
            elif self.keyword("NULL"):
                return "IS NULL"
            raise InvalidInput("Expected IS NULL or IS NOT NULL.")
        if self.keyword("NOT"):
            if self.keyword("IN"):
                return "NOT IN"
            raise InvalidInput("Expected NOT IN.")
        if self.keyword("IN"):
            return "IN"
        if self.keyword("LIKE"):
            return "LIKE"
        if self.keyword("ILIKE"):
            return "ILIKE"
        token = self.take()
        if token.kind != "op":
            raise InvalidInput(
                f"Expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL) at "
                f"character {token.position + 1}, found '{token.text}'."
            )
        return "!=" if token.text == "<>" else token.text

    def value(
        self, kind: Kind, key: str, comparator: str
    ) -> str | float | int | tuple[str, ...] | None:
        name = f"{kind} '{key}'"
        numeric = kind == "metric" or (
            kind == "attribute" and key in self.dialect.numeric_attributes
        )
        if comparator in NULL_COMPARATORS:
            if kind not in ("tag", "parameter"):
                raise InvalidInput(
                    f"IS NULL / IS NOT NULL is only supported for tags and params, not for {name}."
                )
            return None
        if comparator in LIST_COMPARATORS:
            if not (
                (kind == "attribute" and key in self.dialect.list_attributes)
                or kind in self.dialect.list_kinds
            ):
                lists = ", ".join(
                    sorted(self.dialect.list_attributes)
                    + [f"{kind} values" for kind in sorted(self.dialect.list_kinds)]
                )
                raise InvalidInput(
                    f"Only {lists} can be compared with a list (IN, NOT IN) in a search of "
                    f"{self.dialect.name}."
                )
            return self.string_list()
        allowed = NUMERIC_COMPARATORS if numeric else STRING_COMPARATORS
        if kind in ("parameter", "tag") or (kind == "attribute" and not numeric):
            allowed = STRING_COMPARATORS
        if kind == "attribute" and key in (self.dialect.attribute_comparators or {}):
            allowed = self.dialect.attribute_comparators[key]  # type: ignore[index]
        if comparator not in allowed:
            raise InvalidInput(
                f"The comparison '{comparator}' cannot be used with {name}; use one of "
                f"{', '.join(sorted(allowed))}."
            )
        token = self.take()
        if numeric:
            if token.kind != "number":
                raise InvalidInput(f"Expected a number to compare {name} with, found {token.text}.")
            if kind == "metric":
                return float(token.text)
            digits = token.text.lstrip("-")
            if digits.isdecimal():
                return int(token.text) if len(digits) <= _INT_DIGITS_MAX else float(token.text)
            if key in self.dialect.integer_attributes:
                raise InvalidInput(
                    f"Expected an integer to compare {name} with, found {token.text}."
                )
            # Compared as a number (selectors.search): 1.5 is not read as 1, 1e400 is infinity.
            return float(token.text)
        if token.kind in ("string", "dqstring"):
            text = token.text[1:-1]
            if comparator in ("LIKE", "ILIKE") and _ends_in_escape(text):
                raise InvalidInput(
                    f"The pattern '{text}' for {name} ends with the escape character '\\'."
                )
            return text
        raise InvalidInput(
            f"Expected a quoted string value for {name} (e.g. 'my-value'), found {token.text}."
        )

    def string_list(self) -> tuple[str, ...]:
        if self.take().kind != "lparen":
            raise InvalidInput("Expected a list of quoted strings in parentheses after IN.")
        values: list[str] = []
        while True:
            token = self.take()
            if token.kind == "rparen" and not values:
                raise InvalidInput("IN needs at least one value.")
            if token.kind not in ("string", "dqstring"):
                raise InvalidInput(f"Expected a quoted string in the list, found {token.text}.")
            values.append(token.text[1:-1])
            token = self.take()
            if token.kind == "rparen":
                return tuple(values)
            if token.kind != "comma":
                raise InvalidInput(f"Expected ',' or ')' in the list, found {token.text}.")


def parse_filter(text: str | None, dialect: Dialect = RUNS) -> list[Clause]:
    """The clauses of a filter string; an empty filter matches everything."""
    if text is None or not text.strip():
        return []
    return _Parser(text, dialect).parse()


_DIRECTION = re.compile(r"\s(ASC|DESC)$", re.IGNORECASE)


def parse_order_by(clauses: list[str], dialect: Dialect = RUNS) -> list[OrderKey]:
    """Order clauses such as `metrics.acc DESC`; a key may appear once."""
    if len(clauses) > MAX_CLAUSES:
        raise InvalidInput(f"`order_by` can hold at most {MAX_CLAUSES} fields.")
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in clauses:
        text = (clause or "").strip()
        direction = "ASC"
        # A search for the last word, not a lazy .+? with \s* around it (quadratic in spaces).
        if match := _DIRECTION.search(text):
            text, direction = text[: match.start()].rstrip(), match.group(1).upper()
        tokens = _tokenize(text)
        if len(tokens) != 1 or tokens[0].kind not in ("ident", "keyword", "dqstring"):
            raise InvalidInput(f"Invalid order_by clause '{clause}'. Could not be parsed.")
        kind, key = _identifier(tokens[0].text, dialect, ordering=True)
        if (kind, key) in seen:
            raise InvalidInput(f"`order_by` contains duplicate fields: {clauses}")
        seen.add((kind, key))
        keys.append(OrderKey(kind, key, direction == "ASC"))
    return keys
