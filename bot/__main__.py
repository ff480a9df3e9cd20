"""Allows ``python -m bot`` as well as the ``meta-ai-digest`` console script."""

from bot.cli import main

if __name__ == "__main__":
    main()
