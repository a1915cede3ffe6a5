"""Reacher fidelity tolerances. Measured max errors (3 seeds, both tasks): copied obs 6.6e-7, reward 0; 25-step
trajectory obs 5.8e-7, reward 0 (the reward is an indicator)."""

TOLERANCES = {
    "reacher-easy": dict(copied=5e-6, copied_reward=1e-6, trajectory=5e-6, reward=1e-6),
    "reacher-hard": dict(copied=5e-6, copied_reward=1e-6, trajectory=5e-6, reward=1e-6),
}
