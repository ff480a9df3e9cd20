"""Stories stage: group articles about the same event, however many outlets cover it.

The names below load on first use (see bot.lazy): the configuration imports only
``bot.stories.settings``.
"""

from typing import TYPE_CHECKING

from bot.lazy import lazy_exports

if TYPE_CHECKING:
    from bot.stories.index import ArticleRef, Nearest, StoryIndex, StoryMatch
    from bot.stories.representative import choose_representative, reading_order
    from bot.stories.settings import ClusterSettings
    from bot.stories.text import canonical_title

__all__ = [
    "ArticleRef",
    "ClusterSettings",
    "Nearest",
    "StoryIndex",
    "StoryMatch",
    "canonical_title",
    "choose_representative",
    "reading_order",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "ArticleRef": "bot.stories.index",
        "Nearest": "bot.stories.index",
        "StoryIndex": "bot.stories.index",
        "StoryMatch": "bot.stories.index",
        "choose_representative": "bot.stories.representative",
        "reading_order": "bot.stories.representative",
        "ClusterSettings": "bot.stories.settings",
        "canonical_title": "bot.stories.text",
    },
)
