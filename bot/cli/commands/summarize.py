"""``summarize``: one article, or JSON lines, through the extractive rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.bootstrap import context_of, started
from bot.cli.groups import TidyCommand
from bot.cli.options import configured, flag
from bot.cli.output import fail, out, plain

if TYPE_CHECKING:
    from bot.config import Settings

commands = typer.Typer(add_completion=False)


@commands.command(cls=TidyCommand)
@configured()
def summarize(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="PATH|URL|-", hidden=True)] = "-",
    sentences: Annotated[
        int | None,
        typer.Option("--sentences", "-n", metavar="N", min=1, help="Sentences to choose."),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", "-t", metavar="TITLE", help="The article's title, if known."),
    ] = None,
    jsonl: Annotated[
        bool,
        flag("--jsonl", help='Batch: {"id","title","text"} lines in, {"id","summary"} lines out.'),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, help="With --jsonl: processes to spread a long batch over."
        ),
    ] = None,
) -> None:
    """Summarize one article (or JSON lines) with the extractive rules.

    The article is a file PATH, an http(s) URL (its main text is extracted) or - for
    standard input (the default).
    """
    from bot.summarize.jsonl import summarize_jsonl
    from bot.summarize.summarizer import Summarizer
    from bot.topic.classifier import TopicClassifier

    settings, _env = context_of(ctx)
    summarizer = Summarizer(settings.summarize, topic_terms=TopicClassifier(settings.topic).terms())
    started()
    if jsonl:
        from bot.common.workers import available_cores

        for line in summarize_jsonl(sys.stdin, summarizer, sentences, workers or available_cores()):
            sys.stdout.write(line + "\n")
        return
    text = read_article(source, settings)
    for sentence in summarizer.summarize(text, title=title, max_sentences=sentences):
        out.print(plain(sentence))


def read_article(source: str, settings: Settings) -> str:
    """Plain text of a file, stdin, or a web page (main text via trafilatura)."""
    from bot.feeds.http import FetchError
    from bot.feeds.text import clean_text
    from bot.feeds.urls import shown_url
    from bot.services.articles import read_article as read_page

    if source.startswith(("http://", "https://")):
        try:
            text = read_page(source, settings.fetch, settings.summarize)
        except FetchError as error:
            raise fail(f"cannot fetch {shown_url(source)}: {error}") from error
        if not text:
            raise fail(f"no article text found at {source}")
        return text
    try:
        raw = (
            sys.stdin.read()
            if source == "-"
            else Path(source).read_text(encoding="utf-8", errors="replace")
        )
    except OSError as error:
        raise fail(f"cannot read {source}: {error.strerror or error}") from error
    return clean_text(raw, keep_paragraphs=True) if "<" in raw else raw
