"""Walker fidelity tolerances. Measured max errors (3 seeds, walk / stand / run share the physics): copied obs
4.0e-5, reward 7.4e-7 (walk) / 8.7e-8 (stand) / 7.7e-8 (run); 25-step trajectory obs 4.3e-4, reward 2.9e-7 (walk) /
1.8e-6 (stand) / 2.9e-7 (run). With the sub-steps as one loop (`physics.physics_step`) float32 rounding differs:
walk copied obs 3.6e-5, 25-step trajectory obs 1.6e-3 (seed 0) and 9.7e-5 (seed 1), reward 5.9e-7."""

TOLERANCES = {
    "walker-stand": dict(copied=2e-4, copied_reward=5e-6, trajectory=3e-3, reward=1e-5),
    "walker-walk": dict(copied=2e-4, copied_reward=5e-6, trajectory=3e-3, reward=5e-6),
    "walker-run": dict(copied=2e-4, copied_reward=5e-6, trajectory=3e-3, reward=5e-6),
}
