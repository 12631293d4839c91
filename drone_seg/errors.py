"""Errors caused by the user's data or config: reported as one line at start-up, not a traceback."""


class DroneSegError(Exception):
    """Base of the errors a user can fix; the message names the file or config key and the fix."""


class DataError(DroneSegError):
    """The dataset on disk is missing, unreadable or inconsistent."""


class ConfigError(DroneSegError):
    """A config value is invalid or cannot be honoured here."""
