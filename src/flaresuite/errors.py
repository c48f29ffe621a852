"""The suite's exceptions, all under :class:`FlaresuiteError`.

A caller that wants "anything flaresuite refused or could not do" catches the root; each area
raises subclasses that say which kind of failure it was:

* :class:`ConfigError`: the deployment is misconfigured (a Worker answers 503, the CLI exits 2);
* :class:`BadInput`: a request, frame or command line is malformed (4xx, or exit 2);
* :class:`RuntimeFailure`: the input was fine but the world failed (an upstream service, a
  bucket, the network); a CLI exits 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class FlaresuiteError(Exception):
    """Root of every exception the suite raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a configuration cannot be used. ``message`` never holds the variable's value:
    values may be secrets, and a misconfigured URL can carry credentials."""

    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


class ConfigError(FlaresuiteError):
    """The deployment's configuration (Worker vars and secrets, environment variables) is
    incomplete or inconsistent. ``problems`` lists every reason at once, so one deploy shows
    all of them; :attr:`variables` names the settings to fix."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("a ConfigError needs at least one problem")
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @property
    def variables(self) -> tuple[str, ...]:
        """The names of the misconfigured settings, each once, in the order found."""
        return tuple(dict.fromkeys(problem.variable for problem in self.problems))


class BadInput(FlaresuiteError):
    """Input from a caller that must change nothing: an HTTP request body, a WebSocket frame,
    a command-line argument. ``status`` is the HTTP status a Worker answers with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RuntimeFailure(FlaresuiteError):
    """Valid input met a failing world: an upstream answered an error, a bucket refused a
    write, the network dropped. Command-line tools exit 1 on it."""
