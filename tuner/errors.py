"""Errors a user can cause. The CLI prints any TunerError as one line on stderr and exits non-zero."""

from collections.abc import Mapping


class TunerError(Exception):
    """Base class: a problem with what the user asked for, never a bug in tuner."""


class ConfigError(TunerError, ValueError):
    """An invalid setting: a study file, a model argument, an optimizer name."""


class DataError(TunerError, ValueError):
    """Data that cannot be used as asked: missing file or column, text in a number column, too short."""


class ParamsError(TunerError, ValueError):
    """A trial's parameters cannot work here (a model too large for memory): its trial fails and counts."""


class TooLarge(ConfigError, MemoryError):
    """A size that cannot fit in memory, found before anything was allocated."""


class DivergenceError(TunerError, ArithmeticError):
    """Training produced a non-finite or exploding loss."""

    def __init__(self, epoch: int, reason: str, model: int | None = None):
        self.epoch = epoch
        self.reason = reason
        self.model = model  # which model of a stack
        super().__init__(f"training diverged at epoch {epoch}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[int, str, int | None]]:  # pickled as it leaves a helper process
        return type(self), (self.epoch, self.reason, self.model)


class TrainingFailed(TunerError):
    """A config's final model could not be trained (it diverged): names the config."""


class Interrupted(Exception):
    """Raised inside a trial when the user asked the run to stop (Ctrl-C, SIGTERM); not a user error."""


def check_choice(kind: str, name: str, registry: Mapping[str, object]) -> None:
    """Fail with the list of valid names when `name` is not a key of `registry`."""
    if name not in registry:
        valid = ", ".join(sorted(registry))
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {valid}")
