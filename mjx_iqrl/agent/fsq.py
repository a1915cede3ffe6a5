"""Finite scalar quantisation (FSQ, Mentzer et al. 2023) as used by iQRL (REFERENCE.md 1.3 and 8).

A latent of width G * C is split into G groups of C = len(levels) channels; channel c of every group is bounded by a
shifted tanh to about levels[c] integer bins and rounded with a straight-through estimator. There is no codebook and
no commitment loss; the code indices exist only for usage statistics.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

FSQ_EPS = 1e-3
"""Widens the tanh range slightly so that the outermost bins are reachable (as vector_quantize_pytorch 1.15.6)."""


def _constants(levels: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel half_l, offset, shift and half_width (= L // 2) as float32 arrays of shape [C]."""
    levels_arr = np.asarray(levels, dtype=np.float64)
    half_l = (levels_arr - 1.0) * (1.0 + FSQ_EPS) / 2.0
    offset = np.where(np.asarray(levels) % 2 == 0, 0.5, 0.0)
    shift = np.arctanh(offset / half_l)
    half_width = np.asarray(levels) // 2
    return tuple(a.astype(np.float32) for a in (half_l, offset, shift, half_width))


def _grouped(z: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """Reshapes [..., G * C] to [..., G, C]."""
    if z.shape[-1] % len(levels):
        raise ValueError(f"latent width {z.shape[-1]} is not a multiple of len(levels)={len(levels)}")
    return z.reshape(*z.shape[:-1], z.shape[-1] // len(levels), len(levels))


def round_ste(x: jax.Array) -> jax.Array:
    """Rounds to the nearest integer in the forward pass; identity gradient in the backward pass."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def bound(z: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """tanh(z + shift) * half_l - offset per channel: maps the reals into (-L/2 - eps', L/2 - 1 + eps') for even L."""
    half_l, offset, shift, _ = _constants(levels)
    zg = _grouped(z, levels)
    return (jnp.tanh(zg + shift) * half_l - offset).reshape(z.shape)


def quantize(z: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """FSQ: round_ste(bound(z)) / (L // 2) per channel; for L = 8 the values are {-1, -0.75, ..., 0.75}."""
    _, _, _, half_width = _constants(levels)
    q = round_ste(_grouped(bound(z, levels), levels))
    return (q / half_width).reshape(z.shape)


def code_indices(z_q: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """Index of each group's code: sum_c level_index_c * basis_c, basis = [1, L0, L0*L1, ...]; shape [..., G]."""
    _, _, _, half_width = _constants(levels)
    level_index = jnp.round(_grouped(z_q, levels) * half_width + half_width).astype(jnp.int32)
    basis = np.cumprod((1, *levels[:-1])).astype(np.int32)
    return jnp.sum(level_index * basis, axis=-1)


def code_usage(indices: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    """Fraction of the prod(levels) codes of each group that occur in the batch [B, G], averaged over groups."""
    ordered = jnp.sort(indices, axis=0)
    distinct = 1 + jnp.sum(ordered[1:] != ordered[:-1], axis=0)
    return jnp.mean(distinct / math.prod(levels))
