"""Errors that rnnlab raises for bad input.

Every user-facing failure is an :class:`RnnlabError` (or a subclass) whose message is one line
naming what was expected and what was found. The command line prints that line and exits with a
non-zero status instead of showing a traceback.
"""


class RnnlabError(Exception):
    """A clear, one-line error about the user's input, data or environment."""


class ShapeError(RnnlabError, ValueError):
    """An array had the wrong number of dimensions or the wrong size."""


class DataError(RnnlabError, ValueError):
    """A data file or folder was missing or malformed."""


class ConfigError(RnnlabError, ValueError):
    """An option had an unknown or out-of-range value."""
