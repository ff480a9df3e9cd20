"""Which article stands for a story: the fullest text, and among equals the first published."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.common.hosts import AGGREGATOR_HOSTS
from bot.stories.index import ArticleRef, is_aggregator
from bot.stories.text import clean

# Texts at least this share of the longest count as complete; the earliest of them wins,
# so a later rewrite that is a few words longer does not displace the original scoop.
COMPLETE_SHARE = 0.8


def choose_representative(
    articles: Sequence[ArticleRef], aggregator_hosts: Iterable[str] = AGGREGATOR_HOSTS
) -> ArticleRef:
    """The article to show for a story; never an aggregator item when a real article is present."""
    if not articles:
        raise ValueError("choose_representative needs at least one article")
    hosts = tuple(aggregator_hosts)
    real = [a for a in articles if not is_aggregator(a, hosts)]
    pool = real or list(articles)
    lengths = {a.key: len(clean(a.text)) for a in pool}
    longest = max(lengths.values())
    complete = [a for a in pool if lengths[a.key] >= COMPLETE_SHARE * longest]
    return min(complete, key=lambda a: (a.published, a.key))


def reading_order(
    articles: Sequence[ArticleRef], aggregator_hosts: Iterable[str] = AGGREGATOR_HOSTS
) -> list[ArticleRef]:
    """A story's articles as its summary reads them: the representative first, then the rest
    in publication order."""
    if not articles:
        return []
    lead = choose_representative(articles, aggregator_hosts)
    rest = sorted((a for a in articles if a.key != lead.key), key=lambda a: (a.published, a.key))
    return [lead, *rest]
