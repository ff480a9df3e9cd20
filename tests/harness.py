"""The one harness for bot processes, used by tests/ and bench/.

- :data:`BOT_COMMAND`: the installed console script, as an admin runs it.
- :func:`clean_env`: this environment without the bot's own settings.
- :class:`BotProcess` (a context manager): ``meta-ai-digest …`` in a session of its own,
  its output in a log file to read while it runs, stopped by a signal and never left behind
  (its whole process group is killed on the way out).
- :func:`run_bot`: a one-shot command (``migrate``, ``status``, …) with a clean environment.
- :func:`eventually` / :func:`eventually_async`: poll a condition until it holds, instead of
  sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar, overload

T = TypeVar("T")

# The installed console script, as an admin runs it (it goes through bot.cli:main).
BOT_COMMAND = (
    [str(Path(sys.executable).parent / "meta-ai-digest")]
    if (Path(sys.executable).parent / "meta-ai-digest").exists()
    else [sys.executable, "-m", "bot"]
)
BOT_PREFIXES = ("SLACK_", "DISCORD_", "META_AI_DIGEST_", "DATABASE_URL")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the bot's own settings (chat tokens, config path,
    database URL), for a bot process that must read only the config it is given; ``extra``
    on top."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(BOT_PREFIXES)}
    return {**env, **(extra or {})}


# --- waiting for a condition ----------------------------------------------------------


def _describe(condition: Callable[..., object], message: str | Callable[[], str]) -> str:
    said = message() if callable(message) else message
    return said or getattr(condition, "__qualname__", repr(condition))


def eventually(
    condition: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> T:
    """The first truthy value of ``condition()``, polled every ``interval`` seconds; an
    AssertionError (with ``message``, which may be a callable such as a log tail) when it
    is still false after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still false after {timeout}s: {_describe(condition, message)}")
        time.sleep(interval)


@overload
async def eventually_async(
    condition: Callable[[], Awaitable[T]],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    message: str | Callable[[], str] = "",
) -> T: ...


@overload
async def eventually_async(
    condition: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    message: str | Callable[[], str] = "",
) -> T: ...


async def eventually_async(
    condition: Callable[[], object],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    message: str | Callable[[], str] = "",
) -> object:
    """:func:`eventually` for async code: ``condition`` may be a plain or an async
    function; the event loop keeps running between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still false after {timeout}s: {_describe(condition, message)}")
        await asyncio.sleep(interval)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """:func:`eventually` as a bool (for a caller that reports before it asserts)."""
    try:
        eventually(predicate, timeout, interval=interval)
    except AssertionError:
        return False
    return True


# --- processes --------------------------------------------------------------------------


def parent_of(pid: int) -> int | None:
    """The parent process of ``pid`` (Linux /proc), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 4; the command name (field 2) may hold spaces, so count from its ")".
    return int(stat.rsplit(")", 1)[-1].split()[1])


def descendants(pid: int) -> list[int]:
    """Every living process descending from ``pid`` (Linux /proc), in no particular order."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def pool_workers(pid: int | None = None) -> list[int]:
    """The worker processes of ``pid``'s process pools: forked by its fork server, so its
    grandchildren (its children are the fork server and the resource tracker)."""
    pid = pid or os.getpid()
    return [process for process in descendants(pid) if parent_of(process) not in (pid, None)]


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Living processes of process group ``pgid`` (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_group(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGKILL ``process`` (started with ``start_new_session``) and everything of its
    process group, reap it, and check that none of the group is left."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    eventually(lambda: not group_members(process.pid), 10, message="the process group lives")


class BotProcess:
    """``meta-ai-digest <args>`` in a session (and process group) of its own.

    Its stdout goes to ``log`` (appended to: a restarted bot may share one) and its stderr
    there too unless ``stderr_log`` is given. The environment is :func:`clean_env` with
    ``env`` on top, unbuffered so the log can be read while it runs, or exactly ``env``
    when ``inherit=False``.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        stderr_log: Path | None = None,
        cwd: Path | None = None,
        command: Sequence[str] = BOT_COMMAND,
        inherit: bool = True,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.args = [*command, *args]
        self.log = log
        self.stderr_log = stderr_log
        base = clean_env({"PYTHONUNBUFFERED": "1"}) if inherit else {}
        self.env = {**base, **(env or {})}
        self._start = log.stat().st_size if log.exists() else 0
        self._files: list[IO[bytes]] = [log.open("ab")]
        if stderr_log is not None:
            self._files.append(stderr_log.open("ab"))
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=cwd,
            stdout=self._files[0],
            stderr=self._files[1] if stderr_log is not None else subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What this process has written to ``log`` so far."""
        with self.log.open("rb") as file:
            file.seek(self._start)
            return file.read().decode("utf-8", "replace")

    def errors(self) -> str:
        """What it wrote to ``stderr_log`` (its output when there is none)."""
        if self.stderr_log is None:
            return self.output()
        return self.stderr_log.read_text(encoding="utf-8", errors="replace")

    def tail(self, characters: int = 3000) -> str:
        return self.output()[-characters:]

    def wait_for(self, text: str, timeout: float = 60.0, *, stderr: bool = False) -> str:
        """The output once ``text`` is in it; fails early (with the log) if the process
        exits without writing it."""
        read = self.errors if stderr else self.output

        def seen() -> str | None:
            current = read()
            if text in current:
                return current
            if not self.running():
                raise AssertionError(
                    f"exited {self.process.returncode} before {text!r}:\n{current[-3000:]}"
                )
            return None

        found = eventually(seen, timeout, message=lambda: f"{text!r} in\n{read()[-3000:]}")
        assert found is not None
        return found

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, float]:
        """Send ``signum`` and wait for the exit: its code and the seconds it took. What the
        process leaves running (see :meth:`leftovers`) lives on until :meth:`close`."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - sent

    def leftovers(self) -> list[int]:
        """Living processes of its process group (pool workers, say) once it has exited."""
        return group_members(self.pid)

    def kill(self) -> None:
        """SIGKILL the process and its group (``kill -9``)."""
        self.close()

    def close(self) -> None:
        """Leave nothing behind: kill the process group if anything of it is left, close
        the log files."""
        try:
            kill_group(self.process)
        finally:
            for file in self._files:
                file.close()

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_bot(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
    input: str | None = None,
    inherit: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``meta-ai-digest <args>`` run to its end with :func:`clean_env` (plus ``env``, or
    exactly ``env`` when ``inherit=False``); output captured as text."""
    base = clean_env() if inherit else {}
    return subprocess.run(
        [*BOT_COMMAND, *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


async def run_bot_async(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    inherit: bool = True,
) -> subprocess.CompletedProcess[str]:
    """:func:`run_bot` for a test whose fakes serve on its own event loop: the loop keeps
    running while the command does. Killed with its process group if it overruns."""
    base = clean_env() if inherit else {}
    process = await asyncio.create_subprocess_exec(
        *BOT_COMMAND,
        *args,
        env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    code = process.returncode
    assert code is not None
    return subprocess.CompletedProcess(
        [*BOT_COMMAND, *args], code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )
