#!/usr/bin/env python3
"""Builds Oni's labelled set of real NetHack messages (a tool, not part of the product).

Input: run stores (oni.sqlite) whose `messages` tables hold what NLE showed the agents.
Output: JSON lines, one message each, with its label (1 = progress, 0 = not) under every goal by
the written rules below (Tests/OniAnnotationTests/LabelSet/README.md explains them), and the
part it belongs to (dev or test, by a hash of its text).

  python3 build_label_set.py OUT.jsonl RUN_DIR [RUN_DIR ...]

Selection (seeded, reproducible from the same stores): the 150 most frequent messages; every
message some goal's rules call progress (so that positives are not too rare to measure: random
play shows few); 100 more that a broad pattern flags as near misses (monsters biting, pets taking
gold, "You miss"); 150 drawn uniformly from the rest. Prompts that differ only in their
inventory letters ("What do you want to eat? [fgi or ?*]") count as one, kept once.
"""
import hashlib
import json
import random
import re
import sqlite3
import sys

GOALS = ["default", "combat", "gold", "stairs"]

# One sentence shows progress toward a goal when it matches one of these (case-sensitive, as
# NetHack writes them). A message shows progress when any of its sentences does.
AGENT_DEFEATS = re.compile(r"^You (kill|destroy) (the|it|an?|poor) ")
# Kicks are left out: "You kick the fountain." and "You kick the large box." are kicks too.
AGENT_DAMAGES = re.compile(r"^You (hit|bite|smite|butt|sting) (the|it|an?)\b")
LEVEL_UP = re.compile(r"^Welcome to experience level \d+")
GOLD_TAKEN = re.compile(r"^\$ - (an?|\d+) gold pieces?")
GOLD_HERE = re.compile(r"^You see here (an?|\d+) gold pieces?")
GOLD_HEARD = re.compile(r"^You hear someone counting money")
STAIRS_DOWN_HERE = re.compile(r"^There is a staircase down here")

RULES = {
    # Play for score: defeat monsters, pick up gold, go deeper (Goal.default's text).
    "default": [AGENT_DEFEATS, AGENT_DAMAGES, LEVEL_UP, GOLD_TAKEN, GOLD_HERE, GOLD_HEARD, STAIRS_DOWN_HERE],
    "combat": [AGENT_DEFEATS, AGENT_DAMAGES, LEVEL_UP],
    "gold": [GOLD_TAKEN, GOLD_HERE, GOLD_HEARD],
    "stairs": [STAIRS_DOWN_HERE],
}
# Broad candidates, only for selecting the set (over-inclusive on purpose).
CANDIDATE = re.compile(r"kill|destroy|gold|zorkmid|money|stair|experience|welcome|hit|bite|miss|descend|climb|feel", re.I)


def sentences(message):
    parts = re.split(r"(?<=[.!?])\s+", message.strip())
    return [p for p in parts if p]


def label(message, goal):
    return int(any(rule.search(s) for s in sentences(message) for rule in RULES[goal]))


def prompt_shape(message):
    """Prompts that differ only in inventory letters have one shape."""
    return re.sub(r"\[[a-zA-Z$\- ]+( or \?\*)?\]", "[letters]", message)


def part(message):
    return "dev" if hashlib.sha256(message.encode()).digest()[0] % 2 == 0 else "test"


def main():
    out, runs = sys.argv[1], sys.argv[2:]
    counts = {}
    for run in runs:
        db = sqlite3.connect(f"file:{run}/oni.sqlite?mode=ro", uri=True)
        for text, count in db.execute("SELECT text, count FROM messages"):
            counts[text] = counts.get(text, 0) + count
    shapes = set()
    chosen = []

    def take(message):
        shape = prompt_shape(message)
        if shape in shapes or message in chosen:
            return False
        shapes.add(shape)
        chosen.append(message)
        return True

    def take_up_to(candidates, limit):
        taken = 0
        for message in candidates:
            if taken == limit:
                break
            taken += take(message)
        return taken

    ranked = sorted(counts, key=lambda m: (-counts[m], m))
    frequent = take_up_to(ranked, 150)
    rng = random.Random(20261206)
    positives = [m for m in ranked if any(label(m, g) for g in GOALS)]
    taken = sum(take(m) for m in positives)
    flagged = [m for m in ranked if m not in chosen and CANDIDATE.search(m)]
    rng.shuffle(flagged)
    near = take_up_to(flagged, 100)
    rest = [m for m in ranked if m not in chosen]
    rng.shuffle(rest)
    drawn = take_up_to(rest, 150)
    with open(out, "w") as f:
        for message in sorted(chosen):
            labels = {g: label(message, g) for g in GOALS}
            # A judge told no goal, asked about progress in NetHack, is held to NetHack's own
            # measure of progress, the score: the default goal's rules.
            labels["zeroknowledge"] = labels["default"]
            f.write(json.dumps({"message": message, "count": counts[message], "part": part(message), "labels": labels}, ensure_ascii=False) + "\n")
    positives = {g: sum(label(m, g) for m in chosen) for g in GOALS}
    print(f"{len(chosen)} messages ({frequent} frequent, {taken} progress by the rules, {near} near misses, {drawn} drawn); "
          f"progress per goal: {positives}", file=sys.stderr)


if __name__ == "__main__":
    main()
