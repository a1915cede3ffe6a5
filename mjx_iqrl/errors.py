"""Error types that the command line turns into one-line messages (defined by `envs`, the layer below)."""

from envs.errors import ConfigError, ModelFilesError

__all__ = ["ConfigError", "ModelFilesError"]
