"""How every Worker reads its vars and secrets.

Each area declares its settings once (a tuple of :class:`Setting`) and parses them with an
:class:`EnvReader`, which collects every problem instead of stopping at the first, then raises
one :class:`~flaresuite.errors.ConfigError` from :meth:`EnvReader.check`::

    env = EnvReader(values)
    bucket = env.text("SOURCE_S3_BUCKET", required=True)
    keep = env.integer("NIGHTLY_KEEP", default=60, minimum=1)
    env.check()

Rules shared by every Worker:

* a value that is missing, empty or only whitespace is unset (a blank secret is no secret, so
  whatever it guards fails closed);
* a problem names the variable and what is wrong, never the value, which may be a secret or a
  URL with credentials in it;
* a binding missing from wrangler.toml is a problem like any other (:func:`with_bindings`),
  never an ``AttributeError`` and a 500;
* a misconfigured Worker answers 503 naming the variables
  (:func:`flaresuite.http.misconfigured`), and its cron runs fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from flaresuite.errors import ConfigError, Problem


class EnvSource(Protocol):
    """Where settings are read from: a ``dict`` in tests and on the CLI (``os.environ``), the
    Worker's ``env`` through ``cfbindings.EnvVars`` in a Worker."""

    def get(self, name: str, /) -> object: ...


@dataclass(frozen=True, slots=True)
class Setting:
    """One var or secret a Worker reads, as documented and as ``flaresuite dev`` checks it."""

    name: str
    description: str
    secret: bool = False
    """Set with ``pywrangler secret put`` (or ``.dev.vars`` locally), never in wrangler.toml."""
    required: bool = False
    """The Worker refuses to work without it. Settings needed only in some modes say so in
    ``description`` and are checked by the area's parser."""


def setting_names(settings: Iterable[Setting]) -> tuple[str, ...]:
    return tuple(setting.name for setting in settings)


C = TypeVar("C")


def parsed(parse: Callable[[EnvSource], C], env: EnvSource) -> C | ConfigError:
    """``parse(env)``, or the :class:`~flaresuite.errors.ConfigError` it raised: a Worker
    keeps the error and answers it as a 503 instead of failing every request with a 500."""
    try:
        return parse(env)
    except ConfigError as error:
        return error


def with_bindings(
    config: C | ConfigError, bindings: Mapping[str, object | None]
) -> C | ConfigError:
    """``config`` (a parsed configuration or the error parsing raised), unless one of
    ``bindings`` (name to the binding, ``None`` where the Worker's env lacks it) is missing:
    then one :class:`~flaresuite.errors.ConfigError` with every problem, the parser's first."""
    missing = [
        Problem(name, "binding is missing (declare it in wrangler.toml for this env)")
        for name, binding in bindings.items()
        if binding is None
    ]
    if not missing:
        return config
    earlier = config.problems if isinstance(config, ConfigError) else ()
    return ConfigError((*earlier, *missing))


class EnvReader:
    """Typed, validated access to a Worker's environment, collecting problems as it goes."""

    def __init__(self, env: EnvSource) -> None:
        self._env = env
        self.problems: list[Problem] = []

    def problem(self, variable: str, message: str) -> None:
        """Records a problem found by the caller, e.g. two settings that contradict."""
        self.problems.append(Problem(variable, message))

    def check(self) -> None:
        """Raises :class:`ConfigError` with every problem recorded so far."""
        if self.problems:
            raise ConfigError(self.problems)

    def is_set(self, name: str) -> bool:
        return self._raw(name) is not None

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        """The stripped value, or ``default`` when unset (a problem if ``required``)."""
        value = self._raw(name)
        if value is None:
            if required:
                self.problem(name, "is not set")
            return default
        return value

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        """A whole number in ``[minimum, maximum]``; ``default`` when unset or invalid."""
        value = self._raw(name)
        if value is None:
            return default
        # Not int(value) alone: it accepts "1_000" and non-ASCII digits.
        if not (value.isascii() and value.lstrip("-").isdigit()):
            self.problem(name, f"must be a whole number{_range_text(minimum, maximum)}")
            return default
        number = int(value)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.problem(name, f"must be a whole number{_range_text(minimum, maximum)}")
            return default
        return number

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float:
        """A finite number in ``[minimum, maximum]`` (and above 0 when ``positive``).

        ``nan`` and ``inf`` parse as floats but are refused: ``nan`` compares false with every
        bound, so a budget of ``nan`` seconds would never be reached (or always be)."""
        value = self._raw(name)
        if value is None:
            return default
        expected = "a positive number" if positive else "a number"
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if (
            not math.isfinite(number)
            or (positive and number <= 0)
            or (minimum is not None and number < minimum)
            or (maximum is not None and number > maximum)
        ):
            self.problem(name, f"must be {expected}{_range_text(minimum, maximum)}")
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        self.problem(name, "must be true or false")
        return default

    def choice(self, name: str, options: Iterable[str], default: str) -> str:
        allowed = tuple(options)
        value = self._raw(name)
        if value is None:
            return default
        if value not in allowed:
            self.problem(name, f"must be one of {', '.join(allowed)}")
            return default
        return value

    def url(
        self, name: str, *, required: bool = False, schemes: Iterable[str] = ("https", "http")
    ) -> str | None:
        """An absolute URL with a host and one of ``schemes``, without a trailing slash.

        Credentials in the URL (``https://user:pass@host``) are refused: they would end up in
        logs and error messages, which only ever show redacted URLs but should not have to."""
        value = self.text(name, required=required)
        if value is None:
            return None
        allowed = tuple(schemes)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in allowed or not parts.hostname:
            self.problem(name, f"must be a {'/'.join(allowed)} URL with a host")
            return None
        if parts.username is not None or parts.password is not None:
            self.problem(name, "must not contain credentials; use the secret settings")
            return None
        return value.rstrip("/")

    def items(self, name: str, *, separator: str = ",") -> tuple[str, ...]:
        """A separated list, items stripped, empty items dropped, duplicates kept once."""
        value = self._raw(name)
        if value is None:
            return ()
        found = (item.strip() for item in value.split(separator))
        return tuple(dict.fromkeys(item for item in found if item))

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            # wrangler.toml vars may be TOML numbers; they arrive as numbers, not strings.
            value = str(value)
        if not isinstance(value, str):
            return None
        value = value.strip()
        return value or None


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f" of at least {minimum:g}"
    if maximum is not None:
        return f" of at most {maximum:g}"
    return ""
