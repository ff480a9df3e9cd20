"""Chat adapters: the interface, the entry-point registry and the built-in platforms."""

from bot.adapters.base import (
    COMMAND_HELP,
    COMMAND_NAME,
    ChatAdapter,
    CommandHandler,
    DeliveryError,
    Payload,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = [
    "COMMAND_HELP",
    "COMMAND_NAME",
    "ChatAdapter",
    "CommandHandler",
    "DeliveryError",
    "Payload",
    "PermanentDeliveryError",
    "TransientDeliveryError",
]
