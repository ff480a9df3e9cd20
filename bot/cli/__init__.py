"""The command line: ``meta-ai-digest`` (also ``python -m bot``).

Every command takes ``--config PATH`` (or META_AI_DIGEST_CONFIG). Nothing imports this
package: it sits on top of the application and only formats output.

- ``root.py``: the command group, the options before the command, ``main``;
- ``options.py``: the options the commands share, each declared once;
- ``output.py``: the consoles, safe feed text, errors;
- ``bootstrap.py``: start-up and shut-down (``open_app``, ``open_readonly``);
- ``groups.py``: help that reads well, and commands imported when they run;
- ``commands/``: one module per area of commands.

Start-up time is part of the interface (``--help`` answers in a tenth of a second): this
package imports typer and rich only, and each command imports the stages it runs.
Commands that write (``poll``, ``digest``, ``run``, ``feeds enable``, ``migrate``) bring
the schema up to date first; commands that read (``latest``, ``status``, ``explain``,
``feeds list``) never create or migrate a database and say what to run when it is
missing or behind.
"""

from bot.cli.root import app, main

__all__ = ["app", "main"]
