"""``python -m bot.cli``, as ``meta-ai-digest``."""

from bot.cli.root import main

if __name__ == "__main__":
    main()
