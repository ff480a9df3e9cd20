"""A pydantic ValidationError in words an admin can act on: each problem under its dotted key.

The config file and each chat adapter's ``[adapters.<name>]`` table are validated by
pydantic models; all of them report a bad value the same way (``feeds.2.url: ...``),
so an admin reads one kind of message whichever part of the file is wrong.
"""

from __future__ import annotations

import difflib
import types
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

if TYPE_CHECKING:  # only the type: this module must not load pydantic itself
    from pydantic import ValidationError


# pydantic's prefix for a validator's own ValueError; the message after it says it all.
VALUE_ERROR_PREFIX = "Value error, "


def validation_problems(
    error: ValidationError, *, whole: str = "(top level)", model: Any = None
) -> list[str]:
    """``"dotted.key: message"`` for every problem; ``whole`` names a problem with no key.

    With the validated ``model`` class, an unknown key is told the nearest of the model's
    own keys (``did you mean `poll_interval_minutes`?``).
    """
    problems = []
    for problem in error.errors():
        location = problem["loc"]
        message = problem["msg"].removeprefix(VALUE_ERROR_PREFIX)
        if problem["type"] == "extra_forbidden" and model is not None and location:
            message = unknown_key(str(location[-1]), keys_at(model, location[:-1]))
        problems.append(f"{'.'.join(str(part) for part in location) or whole}: {message}")
    return problems


def unknown_key(key: str, known: list[str]) -> str:
    """What to say of ``key``, which is none of ``known``: the closest one, if any is close."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean `{close[0]}`?"
    if not known:
        return "unknown key; this table takes no keys"
    return f"unknown key; the keys here are {', '.join(f'`{name}`' for name in known)}"


def keys_at(model: Any, path: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``path`` (field names and list indexes) inside
    the pydantic ``model`` class; empty when the path leads to no model."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue  # an element of a list: its type was unwrapped with the list's field
        fields = getattr(current, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
    fields = getattr(current, "model_fields", None)
    return list(fields) if isinstance(fields, dict) else []


def _model_in(annotation: Any) -> Any:
    """The model class inside ``X``, ``list[X]``, ``X | None`` (else ``annotation``)."""
    if hasattr(annotation, "model_fields"):
        return annotation
    if get_origin(annotation) in (list, tuple, set, Union, types.UnionType):
        for argument in get_args(annotation):
            found = _model_in(argument)
            if hasattr(found, "model_fields"):
                return found
    return annotation


def describe_validation_error(error: ValidationError, source: str, model: Any = None) -> str:
    """The problems, each naming its dotted key (``feeds.2.url``): on one line when there
    is one, one a line under a heading otherwise."""
    problems = validation_problems(error, model=model)
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return "\n".join([f"invalid configuration in {source}:", *(f"  {p}" for p in problems)])
