"""Slack: digests in channels (or through an incoming webhook) and /meta-ai, on slack-bolt."""

from bot.adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
