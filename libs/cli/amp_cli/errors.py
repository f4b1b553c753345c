"""Errors the CLI reports as one line to the user, never as a traceback (importable without the stack)."""

from __future__ import annotations


class StartError(RuntimeError):
    """The platform could not start on this machine; the message says which part, why, and where
    its files are."""


class ExportError(RuntimeError):
    """A tool the CLI ran to export something failed; the message carries what the tool said."""
