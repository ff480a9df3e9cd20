"""Small helpers that several stages and the chat adapters share, each defined once here.

A leaf package: it imports nothing from the rest of ``bot`` and nothing heavier than
the standard library, so any stage can use it without breaking the one-way data flow
(feeds, store, stories/summarize/topic, digest, adapters), and adapters reach it
through :mod:`bot.adapters.base`.
"""
