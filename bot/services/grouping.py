"""Stored items into stories: each new kept item joins the story it covers or starts one,
and every story it touched gets its representative article and summary refreshed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.common.times import utc_now
from bot.store.database import begin_writing
from bot.store.grouping import (
    Placement,
    attach_items,
    create_story,
    merge_stories,
    posted_at_of,
    update_story,
)
from bot.store.items import (
    ItemText,
    SourcedItem,
    claim_ungrouped,
    grouped_items_since,
    kept_items_of_stories,
    recent_texts,
    ungrouped_item_ids,
)
from bot.store.search import index_stories
from bot.stories.index import ArticleRef, StoryIndex
from bot.stories.kinds import KindRules
from bot.stories.representative import reading_order
from bot.summarize.summarizer import ArticleText

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.stories.settings import ClusterSettings
    from bot.summarize.summarizer import Summarizer

# Kept items grouped per transaction when catching up (after a fault, or a first poll).
GROUP_CHUNK = 2000
SNIPPET_NOTE = "Summary from the feed's snippet: the full article could not be fetched."
# Every sentence of a teaser may be barred (cut off "[…]", a call to action): say why it is bare.
NO_SUMMARY_NOTE = (
    "No summary: the feed gives only a teaser and the full article could not be fetched."
)


def article_ref(item: SourcedItem) -> ArticleRef:
    """The story stage's view of an item."""
    return ArticleRef(
        key=item.id,
        title=item.title,
        text=item.text,
        url=item.normalized_url or "",
        published=item.published_at,
        source=item.source,
        comments_url=item.comments_url,
    )


class GroupingService:
    """The story stage over the store."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: ClusterSettings,
        summarizer: Summarizer,
        common_terms: Iterable[str],
        kinds: KindRules | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.summarizer = summarizer
        self.kinds = kinds or KindRules()
        # The topic's own vocabulary: every kept item uses it, so it tells stories apart poorly.
        self.common_terms = list(common_terms)

    def group_pending(self, chunk: int = GROUP_CHUNK) -> int:
        """Group every kept item that has no story yet, oldest first; return stories created.

        A poll stores its items in committed batches and groups them afterwards, so a fault in
        between (a dead worker, a dropped connection, a full disk, a kill) leaves kept items
        without a story. Nothing else would ever look at them again: their guids are seen. So
        grouping does not take the cycle's list of new items; it takes whatever the store holds
        ungrouped, every cycle (the start-up poll included), until none is left. Each chunk is
        one transaction, so a fault costs at most the chunk it interrupts, and that chunk is
        picked up next time.
        """
        created = 0
        while True:
            pending = self.pending_ids(chunk)
            if not pending:
                return created
            created += self.group_and_summarize(pending)
            if len(pending) < chunk:
                return created

    def pending_ids(self, limit: int) -> list[int]:
        with self.sessions() as session:
            return ungrouped_item_ids(session, limit)

    def group_and_summarize(self, item_ids: Sequence[int]) -> int:
        """Attach these kept items to stories (creating them), then refresh touched stories.

        Items that have a story already (another process grouped them first) are left alone.
        """
        if not item_ids:
            return 0
        now = utc_now()
        with self.sessions.begin() as session:
            # Replicas may catch up at once: the items are locked (SQLite: the write lock from
            # the first statement) so that each is grouped by one process only.
            begin_writing(session)
            items = claim_ungrouped(session, item_ids)
            if not items:
                return 0
            index = self.load_index(session, now, earliest=items[0].published_at)
            for item in items:
                index.observe(item.id, item.title, item.text)
            touched, created = self.place(session, index, items, now)
            kept = kept_items_of_stories(session, touched)
            for story_id in touched:
                self.refresh_story(session, story_id, kept.get(story_id, []), now)
            # Every story created here, and every story whose sources, title or summary just
            # changed, is in `touched`: the search index follows in the same transaction.
            index_stories(session, touched)
        return created

    def place(
        self, session: Session, index: StoryIndex, items: Sequence[SourcedItem], now: datetime
    ) -> tuple[set[int], int]:
        """Put each item in the story it covers, or a new one; return the stories touched
        and how many were created.

        The items' stories are written together, at the end and before a merge (which moves
        what is stored): one statement for many items, as the ORM's flushes did.
        """
        touched: set[int] = set()
        created = 0
        placed: list[Placement] = []
        for item in items:
            ref = article_ref(item)
            match, nearest = index.decide(ref)
            if match is None:
                story_id = self.new_story(session, item, now)
                created += 1
                placed.append(Placement(item.id, story_id, nearest.describe()))
            else:
                story_id = match.story_id
                placed.append(Placement(item.id, story_id, match.reason))
            index.add(ref, story_id)
            touched.add(story_id)
            if match is not None and match.also:
                attach_items(session, placed)
                placed.clear()
                story_id, gone = self.merge_bridged(session, index, story_id, match.also)
                touched.difference_update(gone)
                touched.add(story_id)
        attach_items(session, placed)
        return touched, created

    def merge_bridged(
        self, session: Session, index: StoryIndex, story_id: int, others: Sequence[int]
    ) -> tuple[int, list[int]]:
        """Merge into one the stories an article bridges, when they are one event; return
        the story the article ends in and the stories merged away.

        The survivor is a posted story if there is one (its event was announced: what the
        other brings is an update, +N sources, never a second entry), else the older. The
        absorbed story's items move with a note that `explain` shows; its row and search
        document go.
        """
        current, merged_away = story_id, []
        for other in others:
            reason = index.merge_evidence(current, other)
            if reason is None:
                continue
            posted = posted_at_of(session, (current, other))
            if current not in posted or other not in posted:
                continue
            keep, gone = current, other
            if (posted[gone] is not None, -gone) > (posted[keep] is not None, -keep):
                keep, gone = gone, keep
            merge_stories(session, keep, gone, reason)
            index.merge(keep, gone)
            current = keep
            merged_away.append(gone)
        return current, merged_away

    def load_index(
        self, session: Session, now: datetime, earliest: datetime | None = None
    ) -> StoryIndex:
        """The clustered items a new item could join, indexed for matching new ones.

        The window reaches back from the *earliest item to be grouped*, not from the clock:
        an article published two days ago and polled now (a backlog after downtime, a feed
        that publishes late, a first poll) must meet the stories of its own days.
        Rarity weights come from the kept items of a longer horizon (the story stage's
        background), so the words every Meta-AI item uses weigh next to nothing.
        """
        settings = self.settings
        index = StoryIndex(settings, common_terms=self.common_terms)
        for item in self._background(session, now, kept=True):
            index.observe(item.id, item.title, item.text)
        if len(index.vocabulary) < settings.background_min_items:
            # A young store: dropped items still tell which words every item uses ("the", "de").
            for item in self._background(session, now, kept=False):
                index.observe(item.id, item.title, item.text, kept=False)
        # A feed's dates can be absurd ("Mon, 01 Jan 0001"): no window reaches back further
        # than the rarity background's horizon.
        horizon = now - timedelta(days=settings.background_days)
        since = max(horizon, min(now, earliest or now)) - timedelta(hours=settings.window_hours)
        for item in grouped_items_since(session, since):
            assert item.story_id is not None
            index.add(article_ref(item), item.story_id)
        return index

    def _background(self, session: Session, now: datetime, *, kept: bool) -> list[ItemText]:
        """Recent items (kept or dropped), newest first, for rarity weights; texts only."""
        settings = self.settings
        limit = settings.background_items if kept else settings.background_min_items
        since = now - timedelta(days=settings.background_days)
        return recent_texts(session, since, kept=kept, limit=limit)

    def new_story(self, session: Session, item: SourcedItem, now: datetime) -> int:
        """A story started by ``item``; its id."""
        return create_story(
            session,
            title=item.title,
            url=item.url or "",
            first_published_at=item.published_at,
            now=now,
            # History from a feed's first poll: remembered so later coverage joins it, never
            # posted.
            posted_at=now if item.backfill else None,
        )

    def refresh_story(
        self, session: Session, story_id: int, items: Sequence[SourcedItem], now: datetime
    ) -> None:
        """Representative article, title, link, first publication and summary of a story,
        from its kept ``items`` (in any order)."""
        if not items:
            return
        by_id = {item.id: item for item in items}
        order = reading_order([article_ref(item) for item in items], self.settings.aggregator_hosts)
        ordered = [by_id[ref.key] for ref in order]
        lead = ordered[0]
        articles = [ArticleText(title=item.title, text=item.text) for item in ordered if item.text]
        summary = self.summarizer.summarize_story(articles) if articles else []
        note = None
        if all(item.full_text is None and item.full_text_status for item in items):
            note = SNIPPET_NOTE if summary else NO_SUMMARY_NOTE
        update_story(
            session,
            story_id,
            representative_item_id=lead.id,
            title=lead.title,
            url=lead.url,
            first_published_at=min(item.published_at for item in items),
            kind=self.kinds.story_kind((item.title, item.text) for item in ordered).name,
            summary=summary,
            summary_note=note,
            now=now,
        )
