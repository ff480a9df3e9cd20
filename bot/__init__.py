"""meta-ai-digest: keeps a team up to date on Meta's AI work.

Data flows one way: feeds -> items -> stories -> digests -> adapters.
"""

__version__ = "0.1.0"
