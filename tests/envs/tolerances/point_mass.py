"""Point-mass fidelity tolerances. Measured max errors (3 seeds): copied obs 1.4e-8, reward 4e-57; 25-step
trajectory obs 1.8e-8, reward 2e-57 (far from the target, the reward is ~1e-50 in both)."""

TOLERANCES = {
    "point-mass-easy": dict(copied=1e-7, copied_reward=1e-6, trajectory=1e-7, reward=1e-6),
}
