"""The bot's use cases, each over the stages it needs.

``ingest`` (feeds into stored items), ``grouping`` (items into summarized stories)
and ``digests`` (stories out to chat). Each service takes a sessionmaker, its
stage settings and its collaborators, never the whole Settings;
:class:`bot.pipeline.DigestBot` builds them and keeps the API the CLI and the
scheduler call.
"""
