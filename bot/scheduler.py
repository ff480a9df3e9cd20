"""The long-running bot: APScheduler drives polling, digests and delivery retries.

Jobs (AsyncIOScheduler, one event loop shared with the chat adapters):
- poll every ``schedule.poll_interval_minutes`` (feeds that asked for more time,
  or are backing off, are skipped until they are due);
- post a digest on ``schedule.digest_cron`` in ``schedule.timezone``, or every
  ``schedule.digest_interval_minutes`` when that is set;
- retry pending outbox messages every minute.

SIGTERM or Ctrl-C: the scheduler stops at once, a poll in progress stops fetching
(a database write it began completes in its worker thread, as one transaction;
the rest is fetched again next time), the message being sent finishes and is
marked sent while no further message starts, the adapters close, and the
process exits well within 10 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.adapters.base import ChatAdapter
from bot.config import ScheduleSettings
from bot.delivery import unblock_all
from bot.pipeline import DigestBot, PollReport

log = logging.getLogger(__name__)

DELIVERY_RETRY_SECONDS = 60
# The fallback adapter: when it is the only one, nobody would see anything until the first digest.
TERMINAL = "terminal"
# How long a post in progress may take to finish after SIGTERM (the process must exit within 10 s).
SHUTDOWN_GRACE_SECONDS = 6.0
# Adapters close concurrently within this bound after the jobs are done.
ADAPTER_CLOSE_SECONDS = 2.0
# Jobs safe to cancel at once on shutdown: nothing they do is lost by stopping early.
CANCELLABLE_JOBS = frozenset({"poll"})


class BotJobs:
    """The scheduled jobs; each catches its own errors so one failure never stops the bot."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot = bot
        self.busy: set[asyncio.Task[object]] = set()
        self.stopping = False

    async def poll(self) -> PollReport | None:
        try:
            report = await self.bot.poll()
            log.info("poll: %d new items, %d new stories", report.new_items, report.new_stories)
            return report
        except Exception:
            log.exception("poll cycle failed; the next cycle retries")
            return None

    async def first_poll(self) -> None:
        """The start-up poll; with only the terminal to post to, show the latest news at once.

        Failing feeds are said once here, at the default log level: an admin
        who just started the bot (no network, a proxy, a typo in a URL) should
        not have to wonder why nothing arrives.
        """
        report = await self.poll()
        if report is not None:
            warn_of_failed_feeds(report)
        if self.bot.adapters and all(a.name == TERMINAL for a in self.bot.adapters):
            try:
                await self.show_latest()
            except Exception:
                log.exception("could not show the latest summary")

    async def show_latest(self) -> None:
        digest = await self.bot.latest()
        for adapter in self.bot.adapters:
            for destination in adapter.destinations():
                for payload in adapter.render(digest):
                    await adapter.send(destination, payload, key="latest-at-start")

    async def post_digest(self) -> None:
        try:
            result = await self.bot.post_digest(max_wait_seconds=30)
            log.info(
                "digest: %d stories, %d messages queued",
                len(result.digest.stories),
                result.queued_messages,
            )
        except Exception:
            log.exception("digest failed; its stories stay pending")

    async def deliver(self) -> None:
        try:
            await self.bot.outbox.deliver(max_wait_seconds=0)
        except Exception:
            log.exception("delivery retry failed")

    def tracked(self, job: str) -> asyncio.Task[object] | None:
        """Start a job as a task we can wait for at shutdown (none starts once stopping)."""
        if self.stopping:
            return None
        task: asyncio.Task[object] = asyncio.ensure_future(getattr(self, job)())
        task.set_name(job)
        self.busy.add(task)
        task.add_done_callback(self.busy.discard)
        return task

    async def run(self, job: str) -> None:
        """What the scheduler calls: a coroutine, so APScheduler runs it on our event loop
        (a plain function would go to its thread pool, where no loop runs), and one that
        lasts as long as the job, so ``max_instances=1`` really prevents overlaps."""
        task = self.tracked(job)
        if task is None:
            return
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # APScheduler cancels running jobs when it shuts down; the job's own task
            # is left to finish() (a post completes), so this is no error to report.
            if not self.stopping:
                raise


def build_scheduler(jobs: BotJobs, schedule: ScheduleSettings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=schedule.timezone)
    first_poll = datetime.now(scheduler.timezone) + timedelta(
        minutes=schedule.poll_interval_minutes
    )
    scheduler.add_job(
        jobs.run,
        IntervalTrigger(minutes=schedule.poll_interval_minutes, start_date=first_poll),
        args=["poll"],
        id="poll",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
    )
    digest_trigger = (
        IntervalTrigger(minutes=schedule.digest_interval_minutes)
        if schedule.digest_interval_minutes
        else CronTrigger.from_crontab(schedule.digest_cron, timezone=schedule.timezone)
    )
    scheduler.add_job(
        jobs.run,
        digest_trigger,
        args=["post_digest"],
        id="digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    scheduler.add_job(
        jobs.run,
        IntervalTrigger(seconds=DELIVERY_RETRY_SECONDS),
        args=["deliver"],
        id="deliver",
        max_instances=1,
        coalesce=True,
    )
    return scheduler


async def run_forever(
    bot: DigestBot, schedule: ScheduleSettings, stop: asyncio.Event | None = None
) -> None:
    """Start adapters, poll once, then run the schedule until SIGTERM/SIGINT (or ``stop``)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    jobs = BotJobs(bot)
    scheduler = build_scheduler(jobs, schedule)
    try:
        await asyncio.to_thread(reset_blocked, bot)
        await start_adapters(bot)
        scheduler.start()
        log.info(
            "meta-ai-digest running: %d feeds, adapters: %s",
            len(bot.settings.configured_feeds()),
            ", ".join(adapter.name for adapter in bot.adapters) or "none",
        )
        jobs.tracked("deliver")
        jobs.tracked("first_poll")
        await stop.wait()
        log.info("stopping: letting the running job finish")
    finally:
        jobs.stopping = True
        if scheduler.running:
            scheduler.shutdown(wait=False)
        bot.outbox.stop()
        await finish(jobs)
        await close_adapters(bot)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("stopped")


def warn_of_failed_feeds(report: PollReport) -> None:
    failed = Counter(feed.status for feed in report.feeds if feed.error and not feed.skipped)
    if failed:
        kinds = ", ".join(f"{kind} {count}" for kind, count in failed.most_common())
        log.warning(
            "%d of %d feeds failed on the first poll (%s); `meta-ai-digest feeds list` "
            "shows each error",
            failed.total(),
            len(report.feeds),
            kinds,
        )


def reset_blocked(bot: DigestBot) -> None:
    with bot.sessions.begin() as session:
        unblock_all(session)


async def start_adapters(bot: DigestBot) -> None:
    """Start every adapter's command serving; one that fails to start is logged, not fatal."""
    for adapter in bot.adapters:
        try:
            await adapter.start(bot)
        except Exception as error:
            log.error("adapter %s could not start serving /meta-ai: %s", adapter.name, error)


async def finish(jobs: BotJobs, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """Cancel polls, let a post in progress finish its current message, cancel what remains."""
    for task in list(jobs.busy):
        if task.get_name() in CANCELLABLE_JOBS:
            task.cancel()
    if not jobs.busy:
        return
    _done, pending = await asyncio.wait(set(jobs.busy), timeout=grace)
    for task in pending:
        log.warning("job %s did not finish within %.0fs; cancelled", task.get_name(), grace)
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)


async def close_adapters(bot: DigestBot, timeout: float = ADAPTER_CLOSE_SECONDS) -> None:
    """Close every adapter at once, each within ``timeout``; a failure is only logged."""

    async def close(adapter: ChatAdapter) -> None:
        try:
            await asyncio.wait_for(adapter.close(), timeout=timeout)
        except Exception as error:
            log.warning("adapter %s did not close cleanly: %s", adapter.name, error)

    await asyncio.gather(*(close(adapter) for adapter in bot.adapters))
