"""Checkpoints with orbax: the full training state (resume is exact) plus the policy alone (evaluation without the
training code), with JSON metadata. Saves are atomic (orbax writes a temporary folder and renames it when complete),
so a run killed mid-save keeps its previous checkpoint. The state is stored as its non-empty leaves in flattening
order (orbax cannot store zero-size arrays, which MJX data has); restoring takes the state's abstract shape
(`jax.eval_shape` of the trainer's init), which also rebuilds the empty ones.

In a multi-host run every process calls the same methods: orbax writes and reads each process's shards of the
global arrays in one checkpoint folder (which every process must see), and process 0 writes the metadata.
Resuming takes the newest checkpoint that reads back whole; newer, unreadable ones are set aside under
`<run_dir>/unreadable_checkpoints/`, so that the run can write those steps again. Checkpoints beyond the last `keep`
are renamed into `checkpoints/.deleted/` (atomic) before they are removed, so a run killed while removing one leaves
no half-removed checkpoint next to the others; a save it was writing is removed when the run starts again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import serialization

from mjx_iqrl import distributed, faults
from mjx_iqrl.agent import AgentConfig, PolicyParams, make_policy
from mjx_iqrl.agent.normalizer import ObsStats
from mjx_iqrl.errors import ConfigError

CHECKPOINT_DIR = "checkpoints"
UNREADABLE_DIR = "unreadable_checkpoints"
"""Where resuming moves checkpoints that do not read back (under the run directory)."""
DELETED_DIR = ".deleted"
"""Where old checkpoints go to be removed (under the checkpoints folder; emptied after every save)."""


class Unreadable(NamedTuple):
    """A checkpoint that resuming skipped: its step, why it failed to read, and where it was moved."""

    step: int
    reason: str
    moved_to: Path


class Restored(NamedTuple):
    """The newest readable checkpoint: its training state, metadata and step, and the newer ones skipped."""

    state: Any
    meta: dict[str, Any]
    step: int
    unreadable: tuple[Unreadable, ...]


class ShapeMismatch(NamedTuple):
    """The first state leaf whose stored shape differs from the one requested."""

    step: int
    leaf: str
    saved: tuple[int, ...]
    requested: tuple[int, ...]


def _handlers() -> dict[str, Any]:
    # Registered up front so that a fresh manager can read a checkpoint's metadata before restoring it.
    return {
        "state": ocp.StandardCheckpointHandler(),
        "policy": ocp.StandardCheckpointHandler(),
        "meta": ocp.JsonCheckpointHandler(),
    }


class Checkpointer:
    """Saves and restores `(state, policy, meta)` under `<run_dir>/checkpoints/<chunk index>`. Opening one removes
    the unfinished saves of a killed run, so open it only on a run directory that no process is training in."""

    def __init__(self, run_dir: str | Path, keep: int = 2):
        self.run_dir = Path(run_dir).resolve()
        self.directory = self.run_dir / CHECKPOINT_DIR
        # A save cut short by a kill leaves a temporary folder, which the next save of its step would replace with
        # a warning on the console: unfinished saves are removed here, when the run (re)starts, instead.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            enable_async_checkpointing=False,
            todelete_subdir=DELETED_DIR,
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=_handlers())

    def latest_step(self) -> int | None:
        """Index of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state: Any, policy: PolicyParams, meta: dict[str, Any]) -> None:
        """Writes a checkpoint and waits until it is complete; a full disk is a one-line DiskFullError."""
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(_nonempty_leaves(state)),
            policy=ocp.args.StandardSave(policy_tree(policy)),
            meta=ocp.args.JsonSave(meta),
        )
        nbytes = sum(x.nbytes for x in jax.tree.leaves((state, policy)))
        with faults.checkpoint_write(self.directory, step, nbytes, kept=self.latest_step()):
            self._manager.save(step, args=args)
            self._manager.wait_until_finished()
        if distributed.is_primary():  # orbax's primary process renamed the old ones
            shutil.rmtree(self.directory / DELETED_DIR, ignore_errors=True)

    def shape_mismatch(self, abstract_state: Any) -> ShapeMismatch | None:
        """The first leaf whose shape in the newest checkpoint with readable metadata differs from
        `abstract_state`'s, or None (also when no checkpoint's metadata reads back)."""
        requested = _nonempty_leaves(abstract_state)
        for step in sorted(self._manager.all_steps(), reverse=True):
            try:
                stored = self._manager.item_metadata(step)["state"]
                saved = {name: tuple(leaf.shape) for name, leaf in stored.items()}
            except Exception:  # unreadable: restoring will skip it and say so
                continue
            for name in sorted(set(saved) | set(requested)):
                want = tuple(requested[name].shape) if name in requested else ()
                if saved.get(name, ()) != want:
                    return ShapeMismatch(step, name, saved.get(name, ()), want)
            return None
        return None

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """The training state (shaped like `abstract_state`) and metadata of checkpoint `step` (default newest)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise ConfigError(f"no checkpoint to resume from in {self.directory}")
        device = jax.local_devices()[0]
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None) or _single(device)),
            abstract_state,
        )
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(_nonempty_leaves(target)), meta=ocp.args.JsonRestore()
            ),
        )
        leaves, treedef = jax.tree.flatten(target)
        saved = restored["state"]
        full = [saved[_leaf_name(i)] if leaf.size else _zeros(leaf) for i, leaf in enumerate(leaves)]
        return jax.tree.unflatten(treedef, full), restored["meta"]

    def restore_latest(self, abstract_state: Any) -> Restored:
        """The newest checkpoint that reads back whole; newer unreadable ones are moved aside (one-line
        ConfigError naming the folder if none reads)."""
        failed: list[tuple[int, str]] = []
        for step in sorted(self._manager.all_steps(), reverse=True):
            try:
                state, meta = self.restore(abstract_state, step)
            except Exception as err:
                failed.append((step, faults.reason(err)))
                continue
            moved = self._set_aside([s for s, _ in failed])
            skipped = tuple(Unreadable(s, why, path) for (s, why), path in zip(failed, moved, strict=True))
            return Restored(state=state, meta=meta, step=step, unreadable=skipped)
        if not failed:
            raise ConfigError(f"no checkpoint to resume from in {self.directory}")
        causes = "; ".join(f"{s}: {why}" for s, why in failed)
        raise ConfigError(f"no readable checkpoint in {self.directory} ({causes})")

    def _set_aside(self, steps: list[int]) -> list[Path]:
        """Moves the checkpoints `steps` to `<run_dir>/unreadable_checkpoints/` and rereads the folder."""
        if not steps:
            return []
        aside = self.run_dir / UNREADABLE_DIR
        targets = []
        for step in steps:
            target, n = aside / str(step), 1
            while target.exists():
                target, n = aside / f"{step}-{n}", n + 1
            targets.append(target)
        if distributed.is_primary():
            aside.mkdir(parents=True, exist_ok=True)
            for step, target in zip(steps, targets, strict=True):
                shutil.move(self.directory / str(step), target)
        distributed.barrier("mjx_iqrl_unreadable_checkpoints")
        self._manager.reload()
        return targets

    def close(self) -> None:
        """Releases the manager."""
        self._manager.close()


def _leaf_name(index: int) -> str:
    return f"leaf_{index:05d}"


def _nonempty_leaves(tree: Any) -> dict[str, Any]:
    """The tree's non-empty leaves by flattening index (orbax cannot store zero-size arrays, which MJX data has)."""
    return {_leaf_name(i): leaf for i, leaf in enumerate(jax.tree.leaves(tree)) if leaf.size}


def _zeros(leaf: jax.ShapeDtypeStruct) -> jax.Array:
    """An (empty) array of the leaf's shape, dtype and sharding."""
    value = np.zeros(leaf.shape, leaf.dtype)
    return jax.make_array_from_callback(leaf.shape, leaf.sharding, lambda index: value[index])


def _single(device: Any) -> jax.sharding.Sharding:
    return jax.sharding.SingleDeviceSharding(device)


def policy_tree(policy: PolicyParams) -> dict[str, Any]:
    """The policy as a plain tree for saving: encoder, actor and, when observations are normalised, their stats."""
    tree = {"encoder": policy.encoder, "actor": policy.actor}
    if policy.obs_stats is not None:
        tree["obs_stats"] = {"count": policy.obs_stats.count, "mean": policy.obs_stats.mean, "m2": policy.obs_stats.m2}
    return tree


class LoadedPolicy(NamedTuple):
    """A policy rebuilt from a checkpoint: `act(obs [N, obs_dim]) -> actions [N, action_dim]` (deterministic)."""

    act: Any
    params: PolicyParams
    task: str
    meta: dict[str, Any]


def find_checkpoint(path: str | Path) -> Path:
    """The newest checkpoint folder under a run directory, its checkpoints folder, or a checkpoint folder itself."""
    path = Path(path).resolve()
    for candidate in (path / CHECKPOINT_DIR, path):
        if candidate.is_dir():
            steps = sorted((int(p.name), p) for p in candidate.iterdir() if p.is_dir() and p.name.isdigit())
            if steps:
                return steps[-1][1]
    if (path / "policy").is_dir() and (path / "meta").is_dir():
        return path
    raise ConfigError(f"no checkpoint found at {path}")


POLICY_FILE_SUFFIX = ".policy"
"""Suffix of a policy exported to one file (`export_policy`)."""


def export_policy(path: str | Path, params: PolicyParams, meta: dict[str, Any]) -> Path:
    """Writes one seed's policy and the metadata that rebuilds it (`_meta` of the runner) to one msgpack file.

    One small file travels where a checkpoint folder does not (e.g. off a leased machine without dm_control, to be
    evaluated elsewhere with `python -m mjx_iqrl.evaluate <file> --backend dm_control`).
    """
    path = Path(path).with_suffix(POLICY_FILE_SUFFIX)
    tree = policy_tree(params)
    payload = {"meta": json.dumps(meta), "params": jax.tree.map(np.asarray, jax.device_get(tree))}
    path.write_bytes(serialization.msgpack_serialize(payload))
    return path


def _read_policy_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = serialization.msgpack_restore(path.read_bytes())
    return json.loads(payload["meta"]), payload["params"]


def load_policy(path: str | Path, seed_index: int = 0) -> LoadedPolicy:
    """Rebuilds the deterministic policy of a checkpoint (a run directory, one checkpoint folder, or a file from
    `export_policy`).

    Needs only the agent's networks: no env, replay or training code. For a multi-seed run, `seed_index` picks
    the seed.
    """
    if Path(path).is_file() and Path(path).suffix == POLICY_FILE_SUFFIX:
        meta, params = _read_policy_file(Path(path))
    else:
        folder = find_checkpoint(path)
        checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler(**_handlers()))
        # Onto this process's first device, whatever devices and processes wrote it (a multi-host run's, say).
        device = _single(jax.local_devices()[0])
        stored = checkpointer.metadata(folder).item_metadata["policy"]
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), stored)
        restored = checkpointer.restore(
            folder, args=ocp.args.Composite(policy=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore())
        )
        meta = restored["meta"]
        params = jax.tree.map(lambda x: np.asarray(x)[seed_index], restored["policy"])
    stats = params.get("obs_stats")
    obs_stats = None if stats is None else ObsStats(**{k: np.asarray(v) for k, v in stats.items()})
    params = PolicyParams(encoder=params["encoder"], actor=params["actor"], obs_stats=obs_stats)
    agent_cfg = AgentConfig.from_dict(meta["config"]["agent"])
    policy = make_policy(
        agent_cfg,
        meta["observation_size"],
        meta["action_size"],
        np.asarray(meta["action_low"], np.float32),
        np.asarray(meta["action_high"], np.float32),
    )
    act = jax.jit(lambda obs: policy.act_deterministic(params, obs))
    return LoadedPolicy(act=act, params=params, task=meta["config"]["task"]["name"], meta=meta)
