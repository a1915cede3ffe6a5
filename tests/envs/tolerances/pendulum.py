"""Pendulum fidelity tolerances. Measured max errors (3 seeds): copied obs 9.1e-8, reward 0; 25-step trajectory obs
1.1e-6, reward 0 (the reward is an indicator)."""

TOLERANCES = {
    "pendulum-swingup": dict(copied=1e-6, copied_reward=1e-6, trajectory=1e-5, reward=1e-6),
}
