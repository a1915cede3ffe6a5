"""Swimmer fidelity tolerances. Measured max errors (3 seeds): swimmer6 copied obs 2.9e-5, reward 9.3e-9; 25-step
trajectory obs 5.3e-5, reward 2.1e-9. swimmer15 copied obs 5.9e-4, reward 4.5e-7; 25-step trajectory obs 1.7e-3,
reward 1.1e-5 (float32: with jax_enable_x64 the copied errors fall to 2e-5, the constraint solver's tolerance)."""

TOLERANCES = {
    "swimmer-swimmer6": dict(copied=2e-4, copied_reward=5e-8, trajectory=3e-4, reward=2e-8),
    "swimmer-swimmer15": dict(copied=3e-3, copied_reward=3e-6, trajectory=1e-2, reward=5e-5),
}
