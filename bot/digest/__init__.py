"""Digests: the platform-neutral model of what gets posted."""
