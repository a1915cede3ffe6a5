"""Walker fidelity tolerances. Measured max errors (3 seeds): copied obs 4.0e-5, reward 7.4e-7; 25-step
trajectory obs 4.3e-4, reward 2.9e-7."""

TOLERANCES = {
    "walker-walk": dict(copied=2e-4, copied_reward=5e-6, trajectory=3e-3, reward=5e-6),
}
