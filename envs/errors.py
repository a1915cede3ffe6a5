"""The errors that bad input raises, shared by `envs` and the trainer above it; each message is one line."""


class ConfigError(ValueError):
    """A configuration value, override or task name is invalid; the message is one line for the user."""


class ModelFilesError(FileNotFoundError):
    """dm_control's suite model files cannot be found."""
