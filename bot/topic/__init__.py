"""Topic stage: keep only news about Meta's AI work, with the reasons for every verdict.

The names below load on first use (see bot.lazy): the configuration imports only
``bot.topic.settings``, which must not compile the classifier's rules.
"""

from typing import TYPE_CHECKING

from bot.lazy import lazy_exports

if TYPE_CHECKING:
    from bot.topic.classifier import TopicClassifier, TopicVerdict
    from bot.topic.settings import TopicSettings

__all__ = ["TopicClassifier", "TopicSettings", "TopicVerdict"]

__getattr__ = lazy_exports(
    __name__,
    {
        "TopicClassifier": "bot.topic.classifier",
        "TopicVerdict": "bot.topic.classifier",
        "TopicSettings": "bot.topic.settings",
    },
)
