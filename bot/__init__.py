"""meta-ai-digest: keeps a team up to date on Meta's AI work.

Data flows one way: feeds -> items -> stories -> digests -> outbox -> adapters
(docs/architecture.md). The version is the installed distribution's
(``meta-ai-digest --version`` reads it from the package metadata).
"""
