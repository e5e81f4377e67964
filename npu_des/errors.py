"""The two error types users see: bad input (ConfigError) and a run that cannot progress (SimulationStuck).

The CLI turns either into one line on stderr and exit code 2, so nothing raised here
should need a traceback to be understood.
"""

from __future__ import annotations


def one_line(text: str) -> str:
    """Escape newlines and other unprintable characters (echoed user input may hold them)."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def echoed(text: str, limit: int = 40) -> str:
    """User text to quote in an error: one line, and shortened when long (a 5000-digit number)."""
    return one_line(text) if len(text) <= limit else f"{one_line(text[:20])}... ({len(text)} characters)"


class ConfigError(ValueError):
    """Bad user input: names the source (file or option), the field, and what is allowed."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 allowed: str | None = None) -> None:
        parts = []
        if source:
            parts.append(f"{source}:")
        if field:
            parts.append(f"field '{field}':")
        parts.append(message)
        if allowed:
            parts.append(f"(allowed: {allowed})")
        super().__init__(one_line(" ".join(parts)))
        self.message, self.source, self.field, self.allowed = message, source, field, allowed

    def with_source(self, source: str) -> ConfigError:
        """The same error attributed to `source` (e.g. the hardware a plan failed on), unless it names one."""
        if self.source:
            return self
        return ConfigError(self.message, source=source, field=self.field, allowed=self.allowed)


class SimulationStuck(RuntimeError):
    """The event queue ran dry while tile tasks were still waiting: names them and what they wait for."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. The CLI raises it from its SIGTERM handler (SIGINT arrives as
    KeyboardInterrupt, which long-running code may re-raise as this with a `note`), so cleanup blocks
    run: sweeps stop their workers and flush their table, `run --out` leaves no partial folder. A
    BaseException so that `except Exception` does not swallow it; exit code 128 + the signal number."""

    def __init__(self, signal_number: int = 15, note: str = "") -> None:
        super().__init__(note or f"signal {signal_number}")
        self.signal_number, self.note = signal_number, note


class InputWarning(UserWarning):
    """Accepted but suspicious input (a setting that changes nothing, a file read with a fallback): the
    CLI prints each as one line `npu-des: warning: ...`."""


def warn(message: str) -> None:
    """Report a suspicious input once, as one line, without stopping."""
    import warnings

    warnings.warn(one_line(message), InputWarning, stacklevel=2)
