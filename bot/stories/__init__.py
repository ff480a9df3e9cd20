"""Stories stage: group articles about the same event, however many outlets cover it."""

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
