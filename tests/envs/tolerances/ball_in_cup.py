"""Ball-in-cup fidelity tolerances. Measured max errors (3 seeds): copied obs 3.7e-5, reward 0; 25-step trajectory
obs 5.4e-4 (ball on the taut string and against the cup), reward 0 (the reward is an indicator)."""

TOLERANCES = {
    "cup-catch": dict(copied=2e-4, copied_reward=1e-6, trajectory=3e-3, reward=1e-6),
}
