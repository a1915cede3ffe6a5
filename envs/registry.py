"""The task registry: CLI names (`cheetah-run`) to task constructors, with dm_control's own names as aliases."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from envs.errors import ConfigError

DOMAINS_PACKAGE = "envs.domains"


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """How to build one task: the env class, dm_control's (domain, task) pair, and the class's task arguments."""

    env_class: Callable[..., Any]
    dm_control: tuple[str, str]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dm_control_name(self) -> str:
        """dm_control's name of the task, e.g. 'ball_in_cup-catch'."""
        return "-".join(self.dm_control)


_REGISTRY: dict[str, TaskSpec] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, spec: TaskSpec) -> None:
    """Adds a task under `name`, and dm_control's name as an alias where it differs."""
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} is already registered")
    _REGISTRY[name] = spec
    for alias in {spec.dm_control_name, name.replace("-", "_")} - {name}:
        _ALIASES.setdefault(alias, name)


def domains() -> list[str]:
    """The domain modules under envs/domains; each exports `TASKS: dict[str, TaskSpec]`."""
    package = importlib.import_module(DOMAINS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def _load_domains() -> None:
    if _REGISTRY:
        return
    for domain in domains():
        module = importlib.import_module(f"{DOMAINS_PACKAGE}.{domain}")
        for name, spec in module.TASKS.items():
            register(name, spec)


def list_tasks() -> list[str]:
    """All registered task names, sorted."""
    _load_domains()
    return sorted(_REGISTRY)


def resolve(name: str) -> str:
    """The canonical task name for a name or alias; an unknown name is a ConfigError that lists the known ones."""
    _load_domains()
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    close = difflib.get_close_matches(name, list(_REGISTRY) + list(_ALIASES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown task {name!r}{hint}; known tasks: {', '.join(sorted(_REGISTRY))}")


def spec(name: str) -> TaskSpec:
    """The TaskSpec of a task name or alias."""
    return _REGISTRY[resolve(name)]


def make(name: str, **overrides: Any):
    """Builds a task by name with env overrides (`physics`, `impl`, `iterations`, `ls_iterations`)."""
    from envs.core import EnvConfig

    canonical = resolve(name)
    config = EnvConfig.from_overrides(canonical, overrides)
    task = _REGISTRY[canonical]
    return task.env_class(config, **task.kwargs)
