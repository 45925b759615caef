"""Names of the lab's sections and the modules that implement them (see :mod:`rnnlab.sections`)."""

from rnnlab.sections import SECTIONS

__all__ = ["SECTIONS"]
