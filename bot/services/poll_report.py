"""What one poll cycle did, feed by feed: the `poll` command prints it, the scheduler logs it.

Plain records in a module of their own, so the CLI and the scheduler can name them
without loading the feeds stage (aiohttp, feedparser).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FeedReport:
    """One feed's line in the `poll` output."""

    name: str
    status: str
    new_items: int = 0
    kept: int = 0
    error: str | None = None
    skipped: bool = False
    warning: str | None = None
    # New kept items that can be posted, for the story stage.
    kept_ids: list[int] = field(default_factory=list)


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)
    new_stories: int = 0
    disabled: list[str] = field(default_factory=list)

    @property
    def new_items(self) -> int:
        return sum(report.new_items for report in self.feeds)

    @property
    def failed(self) -> list[FeedReport]:
        """The feeds polled in this cycle that failed (not those skipped while they wait)."""
        return [report for report in self.feeds if report.error and not report.skipped]

    @property
    def kept_ids(self) -> list[int]:
        """Every feed's new kept items, for the story stage."""
        return [item_id for report in self.feeds for item_id in report.kept_ids]
