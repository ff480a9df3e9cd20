"""A pydantic ValidationError in words an admin can act on: each problem under its dotted key.

The config file and each chat adapter's ``[adapters.<name>]`` table are validated by
pydantic models; all of them report a bad value the same way (``feeds.2.url: ...``),
so an admin reads one kind of message whichever part of the file is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the type: this module must not load pydantic itself
    from pydantic import ValidationError


def validation_problems(error: ValidationError, *, whole: str = "(top level)") -> list[str]:
    """``"dotted.key: message"`` for every problem; ``whole`` names a problem with no key."""
    return [
        f"{'.'.join(str(part) for part in problem['loc']) or whole}: {problem['msg']}"
        for problem in error.errors()
    ]


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem, each naming the dotted key, e.g. ``feeds.2.url``."""
    lines = [f"invalid configuration in {source}:"]
    lines.extend(f"  {problem}" for problem in validation_problems(error))
    return "\n".join(lines)
