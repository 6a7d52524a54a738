"""JSON documents the kit reads from files: parsed with a bounded nesting depth, checked
against their schema, and every way they can be wrong said in one line naming the file.

One mechanism for every format (sync state, snapshot, backup, an evidence bundle's
summary.json), because each is hand-carried between machines and may be truncated,
edited or hostile. Validation does not import jsonschema: its import costs ~0.8 s (its
format checkers compile lark grammars), more than everything else a `richcoex check`
does before it connects. `compile_schema` knows the keyword subset our schema files use
and refuses any other, so a schema edit cannot silently outgrow it; the tests prove it
agrees with jsonschema on the sync-state schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Any

from .errors import CouldNotRunError, RichcoexError

# Far deeper than any document the kit writes (a snapshot: 5 levels); json.loads recurses
# once per level, and the values end up in findings that are serialized again.
MAX_DEPTH = 32

# A check returns None, or "<path>: <what was expected>" for the first problem it meets.
Check = Callable[[Any, tuple[str | int, ...]], str | None]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON Schema: 1.0 is an integer; a boolean is never a number.
    "integer": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
}
_ANNOTATIONS = {"$schema", "$id", "title", "description"}
_KEYWORDS = {"type", "enum", "const", "required", "properties", "additionalProperties", "items"}


def depth(text: str) -> int:
    """How deeply brackets nest outside strings: a linear scan, so a hostile file cannot make
    json.loads recurse (100,000 nested lists would raise RecursionError)."""
    brackets = _BRACKETS.findall(_STRING.sub("", text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


def parse(text: str, where: str, error: type[RichcoexError] = CouldNotRunError, hint: str = "") -> Any:
    """`text` as JSON, or `error("<where> …")`: nested deeper than MAX_DEPTH, or not JSON."""
    levels = depth(text)
    if levels > MAX_DEPTH:
        raise error(f"{where} is nested {levels} levels deep; the kit writes at most {MAX_DEPTH}")
    try:
        return json.loads(text)
    except ValueError as problem:  # JSONDecodeError, and int() refusing a number of over 4300 digits
        raise error(f"{where} is not complete JSON ({problem}){hint}") from None


def validate(data: Any, check: Check, where: str, error: type[RichcoexError] = CouldNotRunError) -> None:
    """Raise `error("<where> is malformed at <path>: <expected>")` on the first problem."""
    problem = check(data, ())
    if problem:
        raise error(f"{where} is malformed at {problem}")


@cache
def packaged_schema(name: str) -> Check:
    """The compiled check for a schema file shipped in the package, built once."""
    text = resources.files("richcoex_kit").joinpath(name).read_text(encoding="utf-8")
    return compile_schema(json.loads(text))


def compile_schema(schema: dict[str, Any]) -> Check:
    """Turn the schema into closures. Only the keywords our schemas use are known; any other
    raises here. `additionalProperties` takes a schema (for maps keyed by DN or SID)."""
    unknown = set(schema) - _ANNOTATIONS - _KEYWORDS
    if unknown:
        raise ValueError(f"schema uses unsupported keywords {sorted(unknown)}")
    checks: list[Check] = []
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        tests = [_TYPES[n] for n in names]
        expected = " or ".join(names)

        def check_type(value: Any, path: tuple[str | int, ...]) -> str | None:
            return None if any(t(value) for t in tests) else _say(path, f"expected {expected}, got {_kind(value)}")

        checks.append(check_type)
    if "const" in schema or "enum" in schema:
        allowed = [schema["const"]] if "const" in schema else list(schema["enum"])
        if not all(isinstance(a, str) for a in allowed):
            raise ValueError("schema: only string enums/consts are supported")

        def check_enum(value: Any, path: tuple[str | int, ...]) -> str | None:
            return (
                None
                if isinstance(value, str) and value in allowed
                else _say(path, f"expected one of {allowed}, got {_kind(value)}")
            )

        checks.append(check_enum)
    required = schema.get("required", [])
    properties = {k: compile_schema(v) for k, v in schema.get("properties", {}).items()}
    others = compile_schema(schema["additionalProperties"]) if "additionalProperties" in schema else None
    if required or properties or others:

        def check_object(value: Any, path: tuple[str | int, ...]) -> str | None:
            if not isinstance(value, dict):
                return None  # "type" says so, if the schema cares
            missing = [k for k in required if k not in value]
            if missing:
                return _say(path, f"missing required {', '.join(missing)}")
            known = _first(properties[k](value[k], (*path, k)) for k in properties if k in value)
            if known or others is None:
                return known
            return _first(others(v, (*path, k)) for k, v in value.items() if k not in properties)

        checks.append(check_object)
    if "items" in schema:
        item = compile_schema(schema["items"])

        def check_items(value: Any, path: tuple[str | int, ...]) -> str | None:
            return _first(item(v, (*path, i)) for i, v in enumerate(value)) if isinstance(value, list) else None

        checks.append(check_items)
    return lambda value, path: _first(check(value, path) for check in checks)


def _first(problems: Iterator[str | None]) -> str | None:
    return next((p for p in problems if p), None)


def _say(path: tuple[str | int, ...], message: str) -> str:
    return f"{'/'.join(str(p) for p in path) or '(top)'}: {message}"


def _kind(value: Any) -> str:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value))
    if kind is None:
        kind = "integer" if isinstance(value, int) else "number"
    return f"{kind} {value!r}" if kind in ("string", "integer", "number", "boolean") and len(repr(value)) < 40 else kind
