"""Each channel its own digest: subscriptions made, listed, removed, and posted.

A channel with a subscription gets the stories it selects (kinds, words, a minimum of
outlets), on its own schedule (a cron expression in a time zone, or at once), in its
form (full or compact), with the updates of the stories posted there in their threads,
and breaking alerts when it asks for them. Every other configured channel gets the
default digest (bot/services/digests.py). Exactly once across replicas: a scheduled run
and an alert slot are claimed with conditional UPDATEs, and each (subscription, story)
is recorded once (bot/store/subscriptions.py) in the transaction that queues its
messages in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.common.times import local_minute, utc_now
from bot.common.validation import describe_validation_error
from bot.digest.builder import GROWN_WINDOW, digest_of, outlet_count, reached, update_of
from bot.digest.model import CommandReply, Digest, StoryUpdate
from bot.digest.subscriptions import (
    BACKLOG,
    INSTANT,
    NEVER,
    START_WINDOW,
    SubscriptionSpec,
    channel_of,
    describe,
    is_due,
    next_post,
    schedule_mode,
    spec_from_words,
    split_channel,
    story_selected,
)
from bot.outbox.delivery import Outbox, Target, enqueue_digest
from bot.store.database import begin_writing
from bot.store.digests import delete_digest, fill_digest, new_digest
from bot.store.search import parse_query, recent_story_ids
from bot.store.stories import StoryRecord
from bot.store.subscriptions import (
    SubscriptionRecord,
    all_subscriptions,
    claim_alert,
    claim_growth,
    claim_run,
    delete_subscription,
    grown_posts,
    record_posts,
    remove_config_subscriptions,
    save_subscription,
    subscription_by_id,
    subscription_of,
    unposted_for,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.adapters.base import ChatAdapter
    from bot.digest.settings import DigestSettings

log = logging.getLogger(__name__)

# Stories a subscription's run reads before filtering (its window holds far fewer).
CANDIDATES = 2000


@dataclass(frozen=True)
class SubscriptionInfo:
    """One subscription as `channels list`, `status` and ``/meta-ai channel`` show it."""

    channel: str
    adapter: str
    destination: str
    description: str
    #: None: at once (instant).
    next_post: datetime | None
    timezone: str
    origin: str
    created_by: str | None
    #: False when no configured adapter is named by the channel (nothing is posted).
    configured: bool


class SubscriptionService:
    """Subscriptions in the database, and the posts they make through the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: DigestSettings,
        adapters: Sequence[ChatAdapter],
        outbox: Outbox,
        defaults: tuple[str, str],
        known_kinds: Collection[str],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.adapters = {adapter.name: adapter for adapter in adapters}
        self.outbox = outbox
        #: ``[schedule] digest_cron`` and ``timezone``: what a subscription without its own
        #: schedule or time zone uses.
        self.default_schedule, self.default_timezone = defaults
        self.known_kinds = frozenset(known_kinds)

    # ------------------------------------------------------------------ managing
    def subscribe(
        self, spec: SubscriptionSpec, *, origin: str, by: str | None = None
    ) -> tuple[SubscriptionInfo, bool]:
        """Save the channel's subscription (replacing its settings); True when new.
        ValueError when ``spec`` names a kind ``[kinds]`` does not define."""
        problem = spec.kinds_problem(self.known_kinds)
        if problem is not None:
            raise ValueError(problem)
        with self.sessions.begin() as session:
            begin_writing(session)
            subscription, created = save_subscription(
                session,
                spec.adapter,
                spec.destination,
                self._columns(spec),
                origin=origin,
                now=utc_now(),
                by=by,
            )
            return self._info(subscription, utc_now()), created

    def unsubscribe(self, channel: str) -> bool:
        """Remove the channel's subscription; False when it had none. ValueError when
        ``channel`` is not ``<adapter>:<destination>``."""
        adapter, destination = split_channel(channel)
        with self.sessions.begin() as session:
            begin_writing(session)
            return delete_subscription(session, adapter, destination)

    def sync_config(self, specs: Sequence[SubscriptionSpec]) -> None:
        """Make the config file's ``[[subscriptions]]`` the database's: each written (unless
        the channel's subscription was made in chat or with `channels add`, which win),
        and those the file no longer lists removed."""
        with self.sessions.begin() as session:
            begin_writing(session)
            now = utc_now()
            for spec in specs:
                subscription = subscription_of(session, spec.adapter, spec.destination)
                if subscription is not None and subscription.origin != "config":
                    continue
                columns = self._columns(spec)
                if subscription is None or any(
                    getattr(subscription, k) != v for k, v in columns.items()
                ):
                    save_subscription(
                        session, spec.adapter, spec.destination, columns, origin="config", now=now
                    )
            listed = [(spec.adapter, spec.destination) for spec in specs]
            remove_config_subscriptions(session, listed)

    def infos(self) -> list[SubscriptionInfo]:
        """Every subscription, in the order they were made."""
        with self.sessions() as session:
            now = utc_now()
            return [self._info(subscription, now) for subscription in all_subscriptions(session)]

    def info(self, channel: str) -> SubscriptionInfo | None:
        """The channel's subscription, if it has one. ValueError when ``channel`` is not
        ``<adapter>:<destination>``."""
        adapter, destination = split_channel(channel)
        with self.sessions() as session:
            subscription = subscription_of(session, adapter, destination)
            return None if subscription is None else self._info(subscription, utc_now())

    def _columns(self, spec: SubscriptionSpec) -> dict[str, object]:
        return {
            "kinds": tuple(dict.fromkeys(spec.kinds)),
            "words": spec.words,
            "min_outlets": spec.min_outlets,
            "schedule": spec.schedule or self.default_schedule,
            "timezone": spec.timezone or self.default_timezone,
            "form": spec.form,
            "alerts": spec.alerts,
            "alert_words": spec.alert_words,
        }

    def _info(self, subscription: SubscriptionRecord, now: datetime) -> SubscriptionInfo:
        configured = self._target(subscription) is not None
        return SubscriptionInfo(
            channel=channel_of(subscription.adapter, subscription.destination),
            adapter=subscription.adapter,
            destination=subscription.destination,
            description=describe(
                subscription.kinds,
                subscription.words,
                subscription.min_outlets,
                subscription.schedule,
                subscription.timezone,
                subscription.form,
                subscription.alerts,
            ),
            next_post=next_post(subscription.schedule, subscription.timezone, now),
            timezone=subscription.timezone,
            origin=subscription.origin,
            created_by=subscription.created_by,
            configured=configured,
        )

    def _target(self, subscription: SubscriptionRecord) -> Target | None:
        adapter = self.adapters.get(subscription.adapter)
        return None if adapter is None else (adapter, subscription.destination)

    # ------------------------------------------------------------------ posting
    async def post_due(self) -> list[Digest]:
        """Queue every subscription's due alert and post, then deliver them (``run`` calls
        this after each poll and every minute)."""
        digests = await asyncio.to_thread(self.queue_due)
        if digests:
            await self.outbox.deliver(max_wait_seconds=0)
        return digests

    def queue_due(self, now: datetime | None = None) -> list[Digest]:
        """For every subscription: its alert when one is due, then its post when its
        schedule fell since its last run (instant: whenever it has news). One transaction
        per subscription, so one channel's trouble never holds up another's."""
        moment = now or utc_now()
        with self.sessions() as session:
            ids = [subscription.id for subscription in all_subscriptions(session)]
        queued: list[Digest] = []
        for subscription_id in ids:
            for step in (self._queue_alert, self._queue_post):
                digest = step(subscription_id, moment)
                if digest is not None:
                    queued.append(digest)
        return queued

    def _queue_post(self, subscription_id: int, now: datetime) -> Digest | None:
        with self.sessions.begin() as session:
            begin_writing(session)
            loaded = self._loaded(session, subscription_id)
            if loaded is None:
                return None
            subscription, target = loaded
            if schedule_mode(subscription.schedule) == NEVER:
                # An alerts-only channel: no scheduled post, but the stories it was alerted
                # to still get their updates in its threads.
                updates = self._updates(session, subscription, now)
                return self._queue(session, subscription, target, "digest", [], updates, now)
            last_run = subscription.last_run_at or subscription.created_at
            if not is_due(subscription.schedule, subscription.timezone, last_run, now):
                return None
            if schedule_mode(subscription.schedule) == "cron" and not claim_run(
                session, subscription, now
            ):
                return None  # another replica runs it
            stories = self._selected(session, subscription, now)[: self.settings.max_stories]
            updates = self._updates(session, subscription, now)
            return self._queue(session, subscription, target, "digest", stories, updates, now)

    def _queue_alert(self, subscription_id: int, now: datetime) -> Digest | None:
        settings = self.settings
        with self.sessions.begin() as session:
            begin_writing(session)
            loaded = self._loaded(session, subscription_id)
            if loaded is None or not loaded[0].alerts:
                return None
            subscription, target = loaded
            if schedule_mode(subscription.schedule) == INSTANT:
                return None  # every story goes at once: nothing waits to be alerted
            last = subscription.last_alert_at
            if last is not None and now - last < timedelta(minutes=settings.alert_gap_minutes):
                return None
            window = timedelta(hours=settings.alert_hours)
            alert_words = self._matching(session, subscription.alert_words, now - window)
            due = [
                story
                for story in self._selected(session, subscription, now, since=now - window)
                if reached(story, settings.alert_sources, window)
                or (alert_words is not None and story.id in alert_words)
            ][: settings.max_stories]
            if not due or not claim_alert(session, subscription, now):
                return None
            return self._queue(session, subscription, target, "alert", due, [], now)

    def _loaded(
        self, session: Session, subscription_id: int
    ) -> tuple[SubscriptionRecord, Target] | None:
        """The subscription and its channel, or None when it was removed meanwhile or no
        enabled adapter posts to it."""
        subscription = subscription_by_id(session, subscription_id)
        target = None if subscription is None else self._target(subscription)
        return None if subscription is None or target is None else (subscription, target)

    def _queue(
        self,
        session: Session,
        subscription: SubscriptionRecord,
        target: Target,
        kind: str,
        stories: Sequence[StoryRecord],
        updates: Sequence[tuple[int | None, StoryUpdate]],
        now: datetime,
    ) -> Digest | None:
        """Record ``stories`` as posted to the subscription and queue them with ``updates``
        for its channel, in the caller's transaction."""
        if not stories and not updates:
            return None
        digest_id = new_digest(session, kind, now)
        recorded = record_posts(session, subscription.id, stories, digest_id, now)
        fresh = [story for story in stories if story.id in recorded]
        if not fresh and not updates:
            delete_digest(session, digest_id)
            return None
        digest = digest_of(fresh, now).model_copy(update={"kind": kind, "form": subscription.form})
        shown = digest.model_copy(update={"updates": [update for _at, update in updates]})
        payload = {
            **shown.to_json_dict(),
            "channel": channel_of(subscription.adapter, subscription.destination),
        }
        fill_digest(session, digest_id, kind if fresh else "update", payload)
        enqueue_digest(session, [target], digest, updates, digest_id)
        return shown

    def _selected(
        self,
        session: Session,
        subscription: SubscriptionRecord,
        now: datetime,
        since: datetime | None = None,
    ) -> list[StoryRecord]:
        """The stories not yet posted to the subscription that its filter selects."""
        start = since or max(subscription.created_at - START_WINDOW, now - BACKLOG)
        matching = self._matching(session, subscription.words, start)
        return [
            story
            for story in unposted_for(session, subscription.id, start, CANDIDATES)
            if story_selected(
                story.kind, outlet_count(story), subscription.kinds, subscription.min_outlets
            )
            and (matching is None or story.id in matching)
        ]

    def _matching(self, session: Session, words: str, since: datetime) -> set[int] | None:
        """Ids of the stories matching ``words`` (None: no words, every story matches)."""
        terms = parse_query(words) if words.strip() else None
        if not terms:
            return None
        return set(recent_story_ids(session, since - BACKLOG, CANDIDATES, terms))

    def _updates(
        self, session: Session, subscription: SubscriptionRecord, now: datetime
    ) -> list[tuple[int | None, StoryUpdate]]:
        """The subscription's posted stories that gained sources, each claimed once."""
        if not self.settings.show_new_sources:
            return []
        channel = channel_of(subscription.adapter, subscription.destination)
        updates = []
        for story, post in grown_posts(session, subscription.id, now - GROWN_WINDOW):
            sources = story.kept_sources
            if claim_growth(session, post, sources):
                extra = sources - post.sources_announced
                update = update_of(session, story, extra, post.digest_id, channel)
                updates.append((post.digest_id, update))
        return updates


def subscribe_from_words(
    service: SubscriptionService, channel: str, words: str, by: str
) -> CommandReply:
    """``/meta-ai subscribe <words>`` for ``channel``: saved, or why not in a sentence."""
    from pydantic import ValidationError

    try:
        spec = spec_from_words(channel, words, service.known_kinds)
        info, created = service.subscribe(spec, origin="chat", by=by)
    except ValidationError as error:
        return CommandReply(ok=False, message=describe_validation_error(error, "subscribe"))
    except ValueError as error:
        return CommandReply(ok=False, message=f"subscribe: {error}")
    verb = "subscribed" if created else "changed the subscription of"
    return CommandReply(ok=True, message=f"{verb} {info.channel}: {when_and_what(info)}.")


def channel_sentence(service: SubscriptionService, channel: str) -> CommandReply:
    """``/meta-ai channel``: the channel's subscription, or the default digest."""
    info = service.info(channel)
    if info is None:
        return CommandReply(
            ok=True,
            message="This channel has no subscription of its own: it gets the default digest "
            "(if the bot is configured to post here). An admin can give it one: "
            "/meta-ai subscribe research weekly compact",
        )
    return CommandReply(ok=True, message=f"This channel gets {when_and_what(info)}.")


def when_and_what(info: SubscriptionInfo) -> str:
    """A subscription and its next post, in words (the description says "at once" or "no
    scheduled post" when there is no next post): chat's answers and `status` share them."""
    if info.next_post is None:
        return info.description
    return f"{info.description}; next post {local_minute(info.next_post, info.timezone)}"
