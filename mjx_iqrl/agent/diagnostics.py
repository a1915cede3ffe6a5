"""Representation diagnostics that iQRL reports: the effective rank of a latent batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def effective_rank(z: jax.Array, delta: float = 0.01) -> jax.Array:
    """srank_delta of a [B, D] batch (Kumar et al. 2021): the smallest k with sum_{i<=k} s_i >= (1 - delta) sum_i s_i.

    s_i are the singular values in decreasing order; returns a float32 scalar (1 for an all-zero batch).
    """
    s = jnp.linalg.svd(z.astype(jnp.float32), compute_uv=False)
    cumulative = jnp.cumsum(s)
    below = cumulative < (1.0 - delta) * cumulative[-1]
    return (jnp.sum(below) + 1).astype(jnp.float32)
