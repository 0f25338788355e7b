"""Error types. Every error a user can trigger derives from :class:`DuelbanditError` and from the
builtin it refines (mostly ``ValueError``), so ``except ValueError`` keeps working."""


class DuelbanditError(Exception):
    """Base class of every duelbandit error."""


class PoolError(DuelbanditError, ValueError):
    """A pool file or pool object is malformed (names the file, line and field)."""


class FeatureError(DuelbanditError, ValueError):
    """Features are missing, misaligned with the pool, non-finite or of the wrong shape."""


class DesignError(DuelbanditError, ValueError):
    """An experimental design cannot be computed or rounded as asked."""


class RewardError(DuelbanditError, ValueError):
    """The Bradley–Terry fit got unusable data (shapes, NaN, labels outside {0, 1})."""


class LabelError(DuelbanditError, ValueError):
    """Labels are malformed, refer to unknown pairs, or belong to another pool."""


class SelectorError(DuelbanditError, ValueError):
    """A selector was asked for something it cannot do (bad budget, unknown name, ...)."""


class ConfigError(DuelbanditError, ValueError):
    """A command-line or configuration value is invalid."""


class OutputError(DuelbanditError, ValueError):
    """An output path would destroy an input or an existing file (without ``--force``)."""


class OnlineError(DuelbanditError, ValueError):
    """Online alignment / decoding-time realignment got unusable input (models, lambdas, prompts, P)."""


class PipelineError(DuelbanditError, ValueError):
    """The pool-to-aligned-model pipeline got an invalid setting or a stage's inputs are unusable."""
