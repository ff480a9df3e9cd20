"""Feeds stage: fetch feeds politely, parse them, extract article pages."""
