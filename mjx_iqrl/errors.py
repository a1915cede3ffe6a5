"""Error types that the command line turns into one-line messages."""


class ConfigError(ValueError):
    """A configuration value or override is invalid; the message is one line for the user."""
