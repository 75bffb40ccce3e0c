"""Errors devhost raises itself (as opposed to errors raised by the hosted app)."""


class DevhostError(Exception):
    """Base class for devhost's own errors."""


class StartupError(DevhostError):
    """The app cannot be hosted as configured; the message says what to change."""
