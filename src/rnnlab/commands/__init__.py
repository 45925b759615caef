"""Subcommands of the ``rnnlab`` command line, one module each.

Each module defines ``register(subparsers)`` which adds its parser and sets ``func`` (called with
the parsed namespace, returning an exit status). :mod:`rnnlab.cli` lists the modules.
"""
