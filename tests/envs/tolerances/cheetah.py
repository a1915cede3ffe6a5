"""Cheetah fidelity tolerances. Measured max errors (3 seeds): copied obs 1.7e-5, reward 7.1e-8; 25-step
trajectory obs 5.8e-5, reward 3.4e-7."""

TOLERANCES = {
    "cheetah-run": dict(copied=1e-4, copied_reward=1e-6, trajectory=5e-4, reward=5e-6),
}
