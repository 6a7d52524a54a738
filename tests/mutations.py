"""Hypothesis strategies that damage a valid JSON document the way files get damaged:
values replaced by values of any type, keys deleted, the whole document replaced, the
text cut short. Shared by every file format's property test."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in paths(v, (*prefix, k))]
    elif isinstance(value, list):
        found += [p for i, v in enumerate(value) for p in paths(v, (*prefix, i))]
    return found


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[Any], typical: Sequence[Any] = ()) -> str:
    """One seed with up to three values replaced or deleted (by any JSON value, or one of
    `typical`, values the format really holds), and now and then truncated."""
    document = copy.deepcopy(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths(document)))
        if not path:
            document = draw(JSON_VALUES)
            continue
        parent = functools.reduce(lambda node, key: node[key], path[:-1], document)
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES | st.sampled_from([[[[[[]]]]], *typical]))
    text = json.dumps(document)
    truncate = draw(st.integers(0, 4)) == 0  # now and then, a file that was not finished
    return text[: draw(st.integers(0, len(text)))] if truncate else text
