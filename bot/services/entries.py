"""A new entry made ready for the store: its text cleaned, its topic verdict given.

A poll parses documents with their summaries and contents left as markup and cleans only
the entries it has not stored before (a changed feed repeats most of its entries). This
module is that last step; it is light (no database, no HTTP), so the poll's worker
processes import it once and run it there, a batch's new entries at a time.
"""

from __future__ import annotations

from bot.feeds.parser import finish_entry
from bot.feeds.records import FeedEntry
from bot.topic.classifier import TopicClassifier, TopicVerdict, worker_classifier

# A new entry and whether the topic rules judge it (False: its feed is topic = "all").
Job = tuple[FeedEntry, bool]
# The cleaned entry and its verdict (None: not judged); None for an entry whose text could
# not be cleaned, which is skipped as the parser skips an entry it cannot read: one
# hostile entry must not fail the batch of feeds it is stored with.
Prepared = tuple[FeedEntry, TopicVerdict | None] | None


def prepare_entry(entry: FeedEntry, classifier: TopicClassifier | None) -> Prepared:
    """The cleaned entry and the rules' verdict on it (None without a classifier)."""
    try:
        entry = finish_entry(entry)
    except Exception:
        return None
    verdict = classifier.classify(entry.title, entry.text) if classifier is not None else None
    return entry, verdict


def prepare_in_worker(job: Job) -> Prepared:
    """:func:`prepare_entry` in a worker process, with the rule set the worker built."""
    entry, ruled = job
    return prepare_entry(entry, worker_classifier() if ruled else None)
