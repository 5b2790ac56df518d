"""Steps per second of NetHack: NLE 1.3.0's Python package against Oni's
Swift environment (`oni bench env`), same task, random actions, resets
included, one core each. Tools only; run with the Python that has `nle`
installed (deploy/test.sh makes one: ~/.cache/oni/test-venv/bin/python):

    ~/.cache/oni/test-venv/bin/python deploy/tools/nle_side_by_side.py --oni .build/release/oni
"""
import argparse
import random
import re
import subprocess
import time

import gymnasium as gym
import nle  # noqa: F401


def python_steps_per_second(task, steps):
    # The observations Oni's environment asks libnethack for by default.
    env = gym.make(task, fix_moon_phase=True,
                   observation_keys=("glyphs", "chars", "blstats", "message", "program_state", "internal", "misc"))
    rng = random.Random(1)
    env.unwrapped.seed(0, 1, reseed=False)
    env.reset()
    n = env.action_space.n
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.randrange(n))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oni", default=".build/release/oni")
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    ours = subprocess.run([args.oni, "bench", "env"], check=True, capture_output=True, text=True).stdout
    for name, task in [("nethack:score", "NetHackScore-v0"), ("nethack:staircase", "NetHackStaircase-v0")]:
        theirs = python_steps_per_second(task, args.steps)
        oni = float(re.search(re.escape(name) + r"\s+(\d+) steps/s", ours).group(1))
        print(f"{name:18} Oni {oni:8.0f} steps/s   NLE (Python) {theirs:8.0f} steps/s   Oni is {oni / theirs:.1f}x")


if __name__ == "__main__":
    main()
