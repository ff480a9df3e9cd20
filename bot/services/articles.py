"""An article page's main text: the one path from a URL to the text a summary is made of.

Used by the poll cycle (the full text of kept items whose feed gave only a snippet) and by
``meta-ai-digest summarize URL``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.feeds.article import fetch_article_html
from bot.feeds.http import HttpFetcher
from bot.summarize.fulltext import extract_main_text

if TYPE_CHECKING:
    from bot.feeds.settings import FetchSettings
    from bot.summarize.settings import SummarizeSettings


async def article_text(
    fetcher: HttpFetcher, url: str, settings: SummarizeSettings, *, trusted: bool = False
) -> str | None:
    """The main text of the article page at ``url``, None when the page has none.

    Raises FetchError when the page cannot be had or is not HTML. Links from feeds are
    untrusted (the SSRF guard applies); ``trusted`` is for a URL an admin typed. The
    extraction runs in a thread, off the event loop.
    """
    html = await fetch_article_html(fetcher, url, trusted=trusted)
    return await asyncio.to_thread(extract_main_text, html, url, settings=settings)


def read_article(url: str, fetch: FetchSettings, summarize: SummarizeSettings) -> str | None:
    """:func:`article_text` of a URL an admin gave, with a fetcher of its own."""

    async def read() -> str | None:
        async with HttpFetcher(fetch) as fetcher:
            return await article_text(fetcher, url, summarize, trusted=True)

    return asyncio.run(read())
