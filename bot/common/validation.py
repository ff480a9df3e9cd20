"""A pydantic ValidationError in words an admin can act on: each problem under its dotted key.

The config file and each chat adapter's ``[adapters.<name>]`` table are validated by
pydantic models; all of them report a bad value the same way (``feeds.2.url: ...``),
so an admin reads one kind of message whichever part of the file is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the type: this module must not load pydantic itself
    from pydantic import ValidationError


# pydantic's prefix for a validator's own ValueError; the message after it says it all.
VALUE_ERROR_PREFIX = "Value error, "


def validation_problems(error: ValidationError, *, whole: str = "(top level)") -> list[str]:
    """``"dotted.key: message"`` for every problem; ``whole`` names a problem with no key."""
    return [
        f"{'.'.join(str(part) for part in problem['loc']) or whole}: "
        f"{problem['msg'].removeprefix(VALUE_ERROR_PREFIX)}"
        for problem in error.errors()
    ]


def describe_validation_error(error: ValidationError, source: str) -> str:
    """The problems, each naming its dotted key (``feeds.2.url``): on one line when there
    is one, one a line under a heading otherwise."""
    problems = validation_problems(error)
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return "\n".join([f"invalid configuration in {source}:", *(f"  {p}" for p in problems)])
