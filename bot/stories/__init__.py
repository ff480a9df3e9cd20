"""Stories stage: group articles about the same event, however many outlets cover it."""

from bot.stories.index import ArticleRef, StoryIndex, StoryMatch
from bot.stories.representative import choose_representative
from bot.stories.settings import ClusterSettings
from bot.stories.text import canonical_title

__all__ = [
    "ArticleRef",
    "ClusterSettings",
    "StoryIndex",
    "StoryMatch",
    "canonical_title",
    "choose_representative",
]
