"""Plays an NLE 1.3.0 task with the Python package, for Oni's parity tests.

Prints one JSON line per step: reward, done, and while the game goes on the
message and blstats. Episode k is seeded with core = SEED + k and
display = core + 0x9E3779B97F4A7C15 (mod 2^64), without reseeding and with the
moon phase fixed, as Oni's NetHack environment does; actions come from the
same 64-bit LCG as the Swift side. Tests only: Oni itself never runs Python.
"""
import json
import sys

import gymnasium as gym
import nle  # noqa: F401  (registers the environments)

task, seed, steps, actions_seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
names = {"score": "NetHackScore-v0", "staircase": "NetHackStaircase-v0", "oracle": "NetHackOracle-v0",
         "gold": "NetHackGold-v0", "eat": "NetHackEat-v0", "scout": "NetHackScout-v0",
         "staircase-pet": "NetHackStaircasePet-v0"}
# The same buffers Oni asks for: which ones are requested changes NetHack's random stream.
env = gym.make(names[task], fix_moon_phase=True,
               observation_keys=("glyphs", "chars", "blstats", "message", "program_state", "internal", "misc"))
base = env.unwrapped
MASK = (1 << 64) - 1


def reset(episode):
    core = (seed + episode) & MASK
    base.seed(core, (core + 0x9E3779B97F4A7C15) & MASK, reseed=False)
    obs, _ = env.reset()
    return obs


episode = 0
obs = reset(episode)
state = actions_seed & MASK
n = base.action_space.n
out = sys.stdout
for t in range(steps):
    state = (state * 6364136223846793005 + 1442695040888963407) & MASK
    action = (state >> 33) % n
    obs, reward, terminated, truncated, info = env.step(action)
    done = terminated or truncated
    row = {"reward": round(float(reward), 6), "done": bool(done)}
    if not done:
        row["message"] = bytes(obs["message"]).split(b"\0")[0].decode("latin-1")
        row["blstats"] = [int(v) for v in obs["blstats"]]
    else:
        row["end"] = int(info["end_status"])
    out.write(json.dumps(row) + "\n")
    if done:
        episode += 1
        obs = reset(episode)
