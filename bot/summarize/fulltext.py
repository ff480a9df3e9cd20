"""The main text of an article page, for feed items that carry only a snippet.

A pure function on an HTML string (the feeds stage does the fetching): trafilatura strips the
navigation, comments and boilerplate; this module then refuses what is not worth summarizing
(a paywall teaser or a page with too little text), so the caller falls back to the feed's own
text and says so.
"""

from __future__ import annotations

import re

from bot.summarize.settings import SummarizeSettings, compile_patterns

# schema.org's paywall markup (Google's "subscription and paywalled content" guidelines).
_NOT_FREE_JSON = re.compile(r"""["']isAccessibleForFree["']\s*:\s*["']?false""", re.IGNORECASE)
_NOT_FREE_MICRODATA = re.compile(
    r"""itemprop\s*=\s*["']isAccessibleForFree["'][^>]*content\s*=\s*["']false""", re.IGNORECASE
)


def extract_main_text(
    html: str, url: str | None = None, *, settings: SummarizeSettings | None = None
) -> str | None:
    """The article's main text (paragraphs separated by line breaks), or None.

    None means: no usable text — extraction failed, the text is shorter than
    `settings.full_text_min_words`, or the page is a paywall (a paywall phrase in a short text,
    or schema.org paywall markup on a text that is not clearly whole).
    """
    import trafilatura  # ~0.3 s to import: loaded by the first page fetched, not by every poll

    settings = settings or SummarizeSettings.defaults()
    if not html.strip():
        return None
    text = trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=False,
        include_images=False,
        favor_precision=True,
        # No deduplicate=True: trafilatura's dedup cache is process-wide, so it would blank
        # the second page that carries the same text (a syndicated story from two feeds).
    )
    if not text:
        return None
    words = len(text.split())
    if words < settings.full_text_min_words:
        return None
    if _looks_paywalled(html, text, settings):
        return None
    return text


def _looks_paywalled(html: str, text: str, settings: SummarizeSettings) -> bool:
    """A teaser behind a paywall: it says so, or the page's markup says so and the text is short.

    Many publishers mark pages as not free yet serve the whole text to readers without a
    subscription wall in the HTML, so the markup alone only counts for short texts.
    """
    words = len(text.split())
    looks_whole = words >= settings.paywall_whole_text_words
    if not looks_whole and _says_paywall(text, settings.paywall_patterns):
        return True
    return not looks_whole and _marked_not_free(html)


def _says_paywall(text: str, patterns: list[str]) -> bool:
    pattern = compile_patterns(patterns, case_sensitive=False)
    return pattern is not None and pattern.search(text) is not None


def _marked_not_free(html: str) -> bool:
    """schema.org isAccessibleForFree=false, in JSON-LD or microdata."""
    return bool(_NOT_FREE_JSON.search(html) or _NOT_FREE_MICRODATA.search(html))
