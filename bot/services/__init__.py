"""The bot's use cases, each over the stages it needs.

``ingest`` (feeds into stored items), ``grouping`` (items into summarized stories),
``digests`` (stories out to chat through the outbox), ``feeds`` (the feed list: add,
remove, enable, import, export, check), ``reports`` (status, explain, feed health) and
``articles`` (an article page's main text). Each service takes a sessionmaker, its stage
settings and its collaborators, never the whole Settings; :class:`bot.pipeline.DigestBot`
builds them on first use, and the CLI, the scheduler and the chat commands call them.
"""
