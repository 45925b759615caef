"""Errors that rnnlab raises for bad input.

Every user-facing failure is an :class:`RnnlabError` (or a subclass) whose message is one line
naming what was expected and what was found. The command line prints that line and exits with a
non-zero status instead of showing a traceback.
"""


class RnnlabError(Exception):
    """A clear, one-line error about the user's input, data or environment.

    The message is kept to one line whatever it quotes: line breaks and other control
    characters in it (from a file name or a value the user typed) are shown escaped.
    """

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            args = (_one_line(args[0]),)
        super().__init__(*args)


def _one_line(message: str) -> str:
    """``message`` with control characters escaped (``\\n`` for a line break)."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


class ShapeError(RnnlabError, ValueError):
    """An array had the wrong number of dimensions or the wrong size."""


class DataError(RnnlabError, ValueError):
    """A data file or folder was missing or malformed."""


class ConfigError(RnnlabError, ValueError):
    """An option had an unknown or out-of-range value."""
