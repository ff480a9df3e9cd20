"""Digests: the platform-neutral model of what gets posted."""

from bot.digest.model import Digest, DigestSource, DigestStory, Notice

__all__ = ["Digest", "DigestSource", "DigestStory", "Notice"]
