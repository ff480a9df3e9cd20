"""Topic stage: keep only news about Meta's AI work, with the reasons for every verdict."""

from bot.topic.classifier import TopicClassifier, TopicVerdict
from bot.topic.settings import TopicSettings

__all__ = ["TopicClassifier", "TopicSettings", "TopicVerdict"]
