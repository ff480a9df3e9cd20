"""The long-running bot: APScheduler drives polling, digests and delivery retries.

Jobs (AsyncIOScheduler, one event loop shared with the chat adapters):
- poll every ``schedule.poll_interval_minutes`` (feeds that asked for more time,
  or are backing off, are skipped until they are due);
- post a digest on ``schedule.digest_cron`` in ``schedule.timezone``, or every
  ``schedule.digest_interval_minutes`` when that is set;
- retry pending outbox messages every minute;
- post each subscribed channel's digest when its schedule falls, and its alerts, every
  minute and after each poll (docs/channels.md);
- delete what is older than ``[database] keep_days`` once a day (03:45 UTC) and at
  start-up when that day's run has not happened yet.

Replicas (several ``run`` processes on one database) share the schedule: a poll,
digest or pruning firing is claimed in the database (``bot.store.claims``) under a key
naming the job and its scheduled time, and only the process that claims it
runs it. Interval schedules count from :data:`SCHEDULE_ANCHOR` rather than from
each process's start, so every replica fires at the same times; the start-up
poll and pruning claim the interval they start in. Delivery retries run everywhere: the
outbox leases each message to one sender.

SIGTERM or Ctrl-C: the scheduler stops at once, a poll in progress (the start-up
poll too) is cancelled (a database write it began may complete in its worker
thread, as one transaction; the rest is fetched again next time), the message
being sent finishes and is marked sent while no further message starts, and the
adapters close. Database work still running in a thread after
:data:`THREADS_DEADLINE_SECONDS` is abandoned (:func:`serve` says so and the
command exits at once): its open transaction is rolled back by the database,
and what it would have done is done by the next cycle. The process exits within
10 seconds in every phase.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.common.text import plural
from bot.config import ScheduleSettings
from bot.pipeline import DigestBot, PollReport
from bot.store.database import DBAPIError

log = logging.getLogger(__name__)

DELIVERY_RETRY_SECONDS = 60
# Subscriptions are checked this often: a cron schedule fires within this of its time.
SUBSCRIPTIONS_SECONDS = 60
# The fallback adapter: when it is the only one, nobody would see anything until the first digest.
TERMINAL = "terminal"
# How long a post in progress may take to finish after SIGTERM (the process must exit within 10 s).
SHUTDOWN_GRACE_SECONDS = 6.0
# Adapters close concurrently within this bound after the jobs are done.
ADAPTER_CLOSE_SECONDS = 2.0
# Database work in threads may run this long after the stop signal; then it is abandoned.
THREADS_DEADLINE_SECONDS = 8.0
# Jobs safe to cancel at once on shutdown: nothing they do is lost by stopping early (the
# items a poll stored are committed; what it did not finish, the next cycle does).
CANCELLABLE_JOBS = frozenset({"poll", "first_poll"})
# Interval schedules count from here, not from each process's start: replicas fire together,
# so one firing has one claim key (and a 30-minute poll runs at :00 and :30 UTC).
SCHEDULE_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
# Jobs that run once per firing however many replicas run the schedule. Delivery retries are
# not among them: the outbox leases each message to one sender.
ONCE_PER_FIRING = frozenset({"poll", "post_digest", "prune"})
# Retention runs daily at 03:45 UTC (clear of the :00/:30 polls and the 09:00 digest).
PRUNE_INTERVAL = timedelta(days=1)
PRUNE_ANCHOR = SCHEDULE_ANCHOR + timedelta(hours=3, minutes=45)
# A firing whose claim failed (the database did not answer) is retried at least this often.
CLAIM_RETRY_MAX_SECONDS = 15.0
# ...until this share of the time to the job's next firing is left (at most a minute):
# the next firing must find no run of this one still retrying (max_instances = 1).
CLAIM_RETRY_MARGIN = 0.25
CLAIM_RETRY_MARGIN_MAX = timedelta(minutes=1)
# The scheduled time of the job run in progress, set by FiringExecutor for each run.
FIRING: ContextVar[datetime | None] = ContextVar("firing", default=None)

P = ParamSpec("P")
R = TypeVar("R")


class WorkThreads(concurrent.futures.ThreadPoolExecutor):
    """The event loop's default executor, which knows the work still running in it.

    ``asyncio.run`` would wait for every thread at exit however long its database work
    takes (grouping the 7,500 new items of a big start-up poll takes over a minute); this
    one lets :func:`serve` wait for them only until the stop deadline.
    """

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="bot-work")
        self._running: set[concurrent.futures.Future[Any]] = set()

    def submit(
        self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[R]:
        future = super().submit(fn, *args, **kwargs)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    def finish(self, timeout: float) -> bool:
        """Start nothing new; True when the running work ended within ``timeout`` seconds."""
        self.shutdown(wait=False, cancel_futures=True)
        _done, pending = concurrent.futures.wait(set(self._running), timeout=max(0.0, timeout))
        return not pending


class FiringExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """APScheduler's asyncio executor, telling each run its scheduled time.

    The job's task is created inside ``_do_submit_job`` and copies the context there, so
    :data:`FIRING` holds, for that run alone, the time it was scheduled for: the same in
    every replica, unlike the moment it happens to start.
    """

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        token = FIRING.set(run_times[-1])
        try:
            super()._do_submit_job(job, run_times)
        finally:
            FIRING.reset(token)


def interval_of(job: str, schedule: ScheduleSettings) -> timedelta | None:
    """The interval of a job's schedule; None for the cron digest."""
    if job == "prune":
        return PRUNE_INTERVAL
    if job == "poll":
        return timedelta(minutes=schedule.poll_interval_minutes)
    if job == "post_digest" and schedule.digest_interval_minutes:
        return timedelta(minutes=schedule.digest_interval_minutes)
    return None


def anchor_of(job: str) -> datetime:
    """Where a job's interval schedule counts from."""
    return PRUNE_ANCHOR if job == "prune" else SCHEDULE_ANCHOR


def firing_key(
    job: str, firing: datetime, interval: timedelta | None, anchor: datetime = SCHEDULE_ANCHOR
) -> str:
    """The claim key of one firing: the same string in every replica.

    An interval firing is snapped to its exact multiple of the interval since ``anchor``
    (APScheduler computes it in floating point); a cron firing is a whole second already.
    """
    if interval is not None:
        firing = anchor + round((firing - anchor) / interval) * interval
    return f"{job}@{firing.astimezone(UTC).isoformat()}"


def current_slot(
    now: datetime, interval: timedelta, anchor: datetime = SCHEDULE_ANCHOR
) -> datetime:
    """The latest firing at or before ``now`` of a schedule every ``interval``."""
    return anchor + ((now - anchor) // interval) * interval


class FiringRetry:
    """Tries of one firing's step (its claim, the digest) while the database is away.

    Backs off up to :data:`CLAIM_RETRY_MAX_SECONDS` and gives up only shortly before the
    job's next firing, which supersedes this one (see :func:`retry_deadline`).
    """

    def __init__(
        self, job: str, firing: datetime | None, schedule: ScheduleSettings, step: str
    ) -> None:
        self.job, self.step = job, step
        now = datetime.now(UTC)
        self.give_up_at = (
            retry_deadline(firing, next_firing(job, firing, schedule)) if firing else now
        )
        self.attempts = 0

    async def after(self, error: Exception) -> bool:
        """Wait before the next try; False (logged) when it is time to give up."""
        self.attempts += 1
        now = datetime.now(UTC)
        reason = f"{type(error).__name__}: {error}"
        if now >= self.give_up_at:
            log.error(
                "%s: could not %s (%s); its next firing takes over", self.job, self.step, reason
            )
            return False
        if self.attempts == 1:
            log.warning(
                "%s: could not %s (%s); retrying until the database answers",
                self.job,
                self.step,
                reason,
            )
        delay = min(CLAIM_RETRY_MAX_SECONDS, 0.25 * 2**self.attempts)
        await asyncio.sleep(min(delay, (self.give_up_at - now).total_seconds()))
        return True

    def succeeded(self) -> None:
        if self.attempts:
            log.warning("%s: %s done after %d failed tries", self.job, self.step, self.attempts)


class BotJobs:
    """The scheduled jobs; each catches its own errors so one failure never stops the bot."""

    def __init__(self, bot: DigestBot, schedule: ScheduleSettings) -> None:
        self.bot = bot
        self.schedule = schedule
        self.busy: set[asyncio.Task[object]] = set()
        self.stopping = False

    async def claim_firing(self, job: str, firing: datetime) -> bool:
        """True when this process runs this firing of ``job``; another replica may have it.

        When the database does not answer, the claim is retried (backing off up to
        :data:`CLAIM_RETRY_MAX_SECONDS`) until it answers, and given up only when the
        job's next firing is near (it supersedes this one) or the bot stops: a blip at
        09:00 delays the day's digest, it does not skip it. Every replica retries, and
        still only one claims the firing.
        """
        key = firing_key(job, firing, interval_of(job, self.schedule), anchor_of(job))
        retry = FiringRetry(job, firing, self.schedule, f"claim {key}")
        while True:
            try:
                claimed = await self.bot.claim(key)
            except Exception as error:
                if self.stopping or not await retry.after(error):
                    return False
                continue
            retry.succeeded()
            if claimed:
                log.info("%s: this replica runs %s", job, key)
                return True
            log.info("%s: another replica runs %s", job, key)
            return False

    async def poll(self) -> PollReport | None:
        try:
            report = await self.bot.poll()
            log.info(
                "poll: %s, %s",
                plural(report.new_items, "new item"),
                plural(report.new_stories, "new story"),
            )
        except Exception:
            log.exception("poll cycle failed; the next cycle retries")
            return None
        await self.alert()
        await self.subscriptions()
        return report

    async def alert(self) -> None:
        """Breaking news goes out right after the poll that found it ([digest] alerts)."""
        try:
            digest = await self.bot.digests.post_alert()
        except Exception:
            log.exception("alert failed; its stories wait for the next alert or digest")
            return
        if digest is not None:
            log.info("alert: %s posted at once", plural(len(digest.stories), "story"))

    async def subscriptions(self) -> None:
        """Each subscribed channel's alert and post when due: after every poll (so an
        instant channel hears at once) and every minute (so a cron schedule fires on time).
        Each run and each story is claimed in the database, so replicas post once."""
        try:
            digests = await self.bot.subscriptions.post_due()
        except Exception:
            log.exception("subscriptions failed; their stories wait for the next run")
            return
        for digest in digests:
            log.info("%s: %s", digest.title, plural(len(digest.stories), "story"))

    async def prune(self) -> None:
        try:
            report = await self.bot.prune(should_stop=lambda: self.stopping)
            log.info("retention: %s", report)
        except Exception:
            log.exception("pruning old rows failed; the next day retries")

    async def first_prune(self) -> None:
        """At start-up, the day's pruning if no process has done it yet (a bot restarted
        every night before 03:45 would otherwise never prune)."""
        today = current_slot(datetime.now(UTC), PRUNE_INTERVAL, PRUNE_ANCHOR)
        if await self.claim_firing("prune", today):
            await self.prune()

    async def first_poll(self) -> None:
        """The start-up poll; with only the terminal to post to, show the latest news at once.

        Failing feeds are said once here, at the default log level: an admin
        who just started the bot (no network, a proxy, a typo in a URL) should
        not have to wonder why nothing arrives.
        """
        interval = interval_of("poll", self.schedule)
        assert interval is not None
        if await self.claim_firing("poll", current_slot(datetime.now(UTC), interval)):
            report = await self.poll()
            if report is not None:
                warn_of_failed_feeds(report)
        if self.bot.adapters and all(a.name == TERMINAL for a in self.bot.adapters):
            try:
                await self.show_latest()
            except Exception:
                log.exception("could not show the latest summary")

    async def show_latest(self) -> None:
        await self.bot.digests.show_latest()

    async def post_digest(self) -> None:
        """Queue and deliver the digest; when the database does not answer, try again
        until it does or the next firing is near (queuing is one transaction, and a
        second try finds the stories already claimed, so a retry never posts twice)."""
        firing = FIRING.get()
        retry = FiringRetry("post_digest", firing, self.schedule, "post the digest")
        while True:
            try:
                result = await self.bot.digests.post(max_wait_seconds=30)
            except DBAPIError as error:
                if firing is not None and not self.stopping and await retry.after(error):
                    continue
                log.exception("digest failed; its stories stay pending")
                return
            except Exception:
                log.exception("digest failed; its stories stay pending")
                return
            retry.succeeded()
            log.info(
                "digest: %d stories, %d messages queued",
                len(result.digest.stories),
                result.queued_messages,
            )
            return

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
        lasts as long as the job, so ``max_instances=1`` really prevents overlaps.
        A poll, digest or pruning runs only in the replica that claims its firing."""
        try:
            await self.claim_and_run(job, FIRING.get())
        except asyncio.CancelledError:
            # APScheduler cancels running jobs when it shuts down, a claim in flight
            # included; the job's own task is left to finish() (a post completes), so
            # this is no error to report.
            if not self.stopping:
                raise

    async def claim_and_run(self, job: str, firing: datetime | None) -> None:
        claimed = (
            job not in ONCE_PER_FIRING
            or firing is None
            or (not self.stopping and await self.claim_firing(job, firing))
        )
        if not claimed:
            return
        task = self.tracked(job)
        if task is not None:
            await asyncio.wait({task})


# The jobs' names in logs and in `status` (APScheduler would name them all "BotJobs.run").
JOB_NAMES = {
    "poll": "poll feeds",
    "digest": "post digest",
    "prune": "prune old rows",
    "deliver": "retry deliveries",
    "subscriptions": "post subscriptions",
}


def job_triggers(schedule: ScheduleSettings) -> dict[str, BaseTrigger]:
    """Each job's trigger by job id: the one definition of when the bot does what."""
    digest_trigger = (
        IntervalTrigger(
            minutes=schedule.digest_interval_minutes, start_date=SCHEDULE_ANCHOR, timezone=UTC
        )
        if schedule.digest_interval_minutes
        else schedule.digest_cron_trigger()
    )
    return {
        "poll": IntervalTrigger(
            minutes=schedule.poll_interval_minutes, start_date=SCHEDULE_ANCHOR, timezone=UTC
        ),
        "digest": digest_trigger,
        "prune": IntervalTrigger(days=1, start_date=PRUNE_ANCHOR, timezone=UTC),
        "deliver": IntervalTrigger(seconds=DELIVERY_RETRY_SECONDS),
        "subscriptions": IntervalTrigger(
            seconds=SUBSCRIPTIONS_SECONDS, start_date=SCHEDULE_ANCHOR, timezone=UTC
        ),
    }


def next_firings(
    schedule: ScheduleSettings, now: datetime
) -> list[tuple[str, str, datetime | None]]:
    """Each job's name, its schedule in words and its next firing after ``now`` (None:
    never), as `status` shows them."""
    if schedule.digest_interval_minutes:
        digest = f"every {plural(schedule.digest_interval_minutes, 'minute')}"
    else:
        digest = f'cron "{schedule.digest_cron}"'
    words = {
        "poll": f"every {plural(schedule.poll_interval_minutes, 'minute')}",
        "digest": digest,
        "prune": f"daily at {PRUNE_ANCHOR:%H:%M} UTC",
        "deliver": f"every {plural(DELIVERY_RETRY_SECONDS, 'second')}",
        "subscriptions": f"every {plural(SUBSCRIPTIONS_SECONDS, 'second')}",
    }
    return [
        (JOB_NAMES[job], words[job], trigger.get_next_fire_time(None, now))
        for job, trigger in job_triggers(schedule).items()
    ]


# How late a firing may still run (seconds): a poll is soon superseded by the next; a
# digest or pruning should still happen after a late start. The others: APScheduler's default.
MISFIRE_GRACE = {
    "poll": {"misfire_grace_time": 300},
    "digest": {"misfire_grace_time": 3600},
    "prune": {"misfire_grace_time": 3600},
}
# The scheduled jobs' method names (BotJobs) and their ids in the scheduler.
JOB_IDS = {
    "poll": "poll",
    "post_digest": "digest",
    "prune": "prune",
    "deliver": "deliver",
    "subscriptions": "subscriptions",
}


def trigger_of(job: str, schedule: ScheduleSettings) -> BaseTrigger:
    """The trigger of a scheduled job (by its method name): for the claim retries that must
    stop before the job's next firing, from the one definition, :func:`job_triggers`."""
    return job_triggers(schedule)[JOB_IDS[job]]


def next_firing(job: str, firing: datetime, schedule: ScheduleSettings) -> datetime | None:
    """The firing after ``firing`` of ``job``; None when there is none."""
    later = firing + timedelta(microseconds=1)
    following: datetime | None = trigger_of(job, schedule).get_next_fire_time(firing, later)
    return following


def retry_deadline(firing: datetime, following: datetime | None) -> datetime:
    """Until when a failed claim of ``firing`` is retried, ``following`` being the next."""
    if following is None:
        return firing + CLAIM_RETRY_MARGIN_MAX
    margin = min(CLAIM_RETRY_MARGIN_MAX, (following - firing) * CLAIM_RETRY_MARGIN)
    return following - margin


def build_scheduler(jobs: BotJobs, schedule: ScheduleSettings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=schedule.timezone, executors={"default": FiringExecutor()}
    )
    triggers = job_triggers(schedule)
    for method, job_id in JOB_IDS.items():
        scheduler.add_job(
            jobs.run,
            triggers[job_id],
            args=[method],
            id=job_id,
            name=JOB_NAMES[job_id],
            max_instances=1,
            coalesce=True,
            **MISFIRE_GRACE.get(job_id, {}),
        )
    return scheduler


def serve(bot: DigestBot, schedule: ScheduleSettings) -> bool:
    """Run the bot until SIGTERM/SIGINT; False when database work was still running in a
    thread at the stop deadline: the caller must then exit at once (``os._exit``), since
    the interpreter would wait for that thread at exit."""
    threads = WorkThreads()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(threads)
    stopped_at: float | None = None
    try:
        stopped_at = loop.run_until_complete(run_forever(bot, schedule))
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        if leftover:
            gathered = asyncio.gather(*leftover, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                loop.run_until_complete(asyncio.wait_for(gathered, timeout=1.0))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        deadline = (stopped_at or time.monotonic()) + THREADS_DEADLINE_SECONDS
        finished = threads.finish(deadline - time.monotonic())
        if finished:  # an abandoned thread would still hand its result to the loop
            loop.close()
    if not finished:
        log.warning(
            "stopping: database work still running in a thread is abandoned; the database "
            "rolls it back and the next poll cycle does it again"
        )
    return finished


async def run_forever(
    bot: DigestBot, schedule: ScheduleSettings, stop: asyncio.Event | None = None
) -> float:
    """Start adapters, poll once, then run the schedule until SIGTERM/SIGINT (or ``stop``).

    Returns when the stop was asked (``time.monotonic()``), the start of the 10 s budget.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    jobs = BotJobs(bot, schedule)
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
        jobs.tracked("first_prune")
        await stop.wait()
        stopped_at = time.monotonic()
        log.info("stopping: letting the running job finish")
    finally:
        jobs.stopping = True
        if scheduler.running:
            scheduler.shutdown(wait=False)
        bot.outbox.stop()
        await finish(jobs)
        await bot.close_adapters(ADAPTER_CLOSE_SECONDS)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("stopped")
    return stopped_at


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
    bot.outbox.unblock_all()


async def start_adapters(bot: DigestBot) -> None:
    """Start every adapter's command serving; one that fails to start is logged, not fatal."""
    for adapter in bot.adapters:
        try:
            await adapter.start(bot.commands)
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
