"""Extractive summaries by rules: verbatim sentences, chosen by readable, tunable rules.

Knows nothing of feeds, chat or storage: text (and an optional title) in, sentences out.
"""
