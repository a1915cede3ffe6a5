"""Dog fidelity tolerances. Measured max errors (dog-walk, 3 seeds; stand, trot and run share its physics and
initial states and differ only in the reward and floor size): copied obs 8.2 (touch and paw force sensors of up to
400 N; joint angles 9.8e-3 rad, joint velocities 0.51 rad/s), reward 5.8e-4; 25-step trajectory obs 70 (paw forces;
joint angles 0.15 rad), reward 1.2e-2. dog-stand's reward (height and uprightness, not speed) moves more with the
same trajectories: 25-step reward errors 3.0e-4, 6.2e-2, 3.2e-2, 3.3e-2 (seeds 0-3; walk, trot and run: 1.2e-2 at
most).

These are the MJX model edits of `envs/domains/dog.py`, not float32 rounding. Isolated in MuJoCo itself (float64,
4 seeds, 1000 random-action steps, median over seeds of the largest joint-angle difference from dm_control):

- noslip off: 1.9e-2 rad after 10 steps, 0.50 after 100 (a 1e-9 velocity perturbation: 1e-9 and 6e-6);
  |return difference| 0.1 (walk, dm_control return 5.5), 0.1 (run, 4.0), 0.5 (stand, 19.1);
- the ellipsoid substitutes (torso and skull twins, capsule teeth): identical until the first contact they change,
  0.35 rad after 100 steps; |return difference| 0.1, 0.0, 0.1;
- both: |return difference| 0.2, 0.1, 0.6.
Without the substitutes MJX's signed-distance ellipsoid functions gave one-step joint-angle errors of 0.34 rad.

Initial states: over 64 of them the accelerometer's sideways reading, constant in dm_control's float64, spreads by
5.9e-6 here (values up to 1.8e-5: float32 rounding of a gravity-sized sensor; 5.7e-6 with LLVM at -O1).
"""

_DOG = dict(copied=40.0, copied_reward=3e-3, trajectory=350.0, reward=6e-2, constant_spread=2e-5)

TOLERANCES = {task: dict(_DOG) for task in ("dog-walk", "dog-trot", "dog-run")}
TOLERANCES["dog-stand"] = dict(_DOG, reward=0.15)
