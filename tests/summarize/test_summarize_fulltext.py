"""Main-text extraction from article pages (trafilatura) and its paywall / too-short refusals."""

from __future__ import annotations

from pathlib import Path

from bot.summarize.fulltext import extract_main_text
from bot.summarize.settings import SummarizeSettings
from bot.summarize.summarizer import Summarizer

DATA = Path(__file__).resolve().parents[1] / "data" / "summarize"


def page(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def test_article_page_yields_its_text_without_navigation_or_footer() -> None:
    text = extract_main_text(page("page_article.html"), "https://news.example.com/meta-paris")
    assert text is not None
    assert "open a new artificial intelligence research lab in Paris" in text
    assert "hire the few hundred people able to train frontier models" in text
    for chrome in ("Log in", "Most read", "Ten gadgets", "Cookie settings", "All rights reserved"):
        assert chrome not in text


def test_extracted_text_summarizes_into_sentences_of_the_page() -> None:
    text = extract_main_text(page("page_article.html"))
    assert text is not None
    summary = Summarizer().summarize(text, title="Meta opens a new AI research lab in Paris")
    assert summary and all(sentence in text for sentence in summary)
    assert summary[0].startswith("Meta said on Wednesday that it would open")


# The fixtures' texts are short; a low minimum makes the paywall rule, not length, decide.
LOW_MINIMUM = SummarizeSettings(full_text_min_words=10)


def test_paywall_teaser_is_refused() -> None:
    html = page("page_paywall.html")
    assert extract_main_text(html, "https://biz.example.com/x", settings=LOW_MINIMUM) is None
    no_phrases = SummarizeSettings(full_text_min_words=10, paywall_patterns=[])
    teaser = extract_main_text(html, settings=no_phrases)
    assert teaser is not None and "Mark Zuckerberg has spent billions" in teaser


def test_schema_org_paywall_markup_on_a_short_text_is_refused() -> None:
    html = page("page_paywall_jsonld.html")
    assert extract_main_text(html, settings=LOW_MINIMUM) is None
    unmarked = html.replace('"isAccessibleForFree": false', '"isAccessibleForFree": true')
    assert extract_main_text(unmarked, settings=LOW_MINIMUM) is not None


def test_paywall_markup_does_not_refuse_a_whole_article() -> None:
    html = page("page_paywall_jsonld.html")
    relaxed = SummarizeSettings(full_text_min_words=20, paywall_whole_text_words=50)
    text = extract_main_text(html, settings=relaxed)
    assert text is not None and "sold out in several European countries" in text
    assert extract_main_text(html, settings=SummarizeSettings(full_text_min_words=20)) is None
    microdata = (
        '<html><body><div itemscope itemtype="https://schema.org/NewsArticle">'
        '<meta itemprop="isAccessibleForFree" content="false">'
        "<article><p>" + "Meta sold many glasses in Europe this week. " * 6 + "</p></article>"
        "</div></body></html>"
    )
    assert extract_main_text(microdata, settings=SummarizeSettings(full_text_min_words=20)) is None
    free = microdata.replace('content="false"', 'content="true"')
    assert extract_main_text(free, settings=SummarizeSettings(full_text_min_words=20)) is not None


def test_too_short_or_empty_pages_are_refused() -> None:
    short = "<html><body><article><p>Meta released a model today.</p></article></body></html>"
    assert extract_main_text(short) is None
    assert extract_main_text("") is None
    assert extract_main_text("   ") is None
    assert extract_main_text("<html><body><nav><a href='/'>Home</a></nav></body></html>") is None
    assert extract_main_text("not html at all, just a few words") is None


def test_minimum_length_is_configurable() -> None:
    html = page("page_article.html")
    assert extract_main_text(html, settings=SummarizeSettings(full_text_min_words=10_000)) is None


def test_the_same_page_twice_gives_the_same_text() -> None:
    # A syndicated story reaches us from two feeds; the second copy must not come back empty.
    html = page("page_article.html")
    first = extract_main_text(html, "https://a.example.com/story")
    second = extract_main_text(html, "https://b.example.com/story")
    assert first is not None and first == second
