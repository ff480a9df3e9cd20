"""The commands, one module per area; ``bot.cli.root`` names them and imports a module
only when one of its commands runs or its help is shown."""
