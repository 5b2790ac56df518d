#!/usr/bin/env python3
"""Time to a success rate, from runs' metrics.jsonl files.

For each run directory: the first metrics snapshot whose env/success_rate (the last 100
episodes) reaches the threshold, as env steps and wall-clock minutes since the learner
started (learner/uptime_s); a run that never gets there is reported as censored at its
last snapshot ('>'). Also the run's median env/fps and learner/policy_lag over its
snapshots, and learner/samples_per_s when present.

    python3 deploy/tools/time-to-success.py --threshold 0.9 runs/keyroom-s1 runs/keyroom-s2
"""
import argparse
import json
import statistics
import sys
from pathlib import Path


def summarise(run: Path, threshold: float):
    rows = []
    with open(run / "metrics.jsonl") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    if not rows:
        return None
    def median(key):
        values = [r["values"][key] for r in rows if key in r["values"] and r["values"][key] > 0]
        return statistics.median(values) if values else float("nan")
    # The rate is over the last 100 episodes: before 100 have ended it is a small sample.
    hit = next((r for r in rows if r["values"].get("env/episodes", 0) >= 100 and r["values"].get("env/success_rate", 0) >= threshold), None)
    last = rows[-1]
    row = hit or last
    return {
        "run": str(run),
        "reached": hit is not None,
        "env_steps": row["env_steps"],
        "minutes": row["values"].get("learner/uptime_s", 0) / 60,
        "final_success": last["values"].get("env/success_rate", float("nan")),
        "fps": median("env/fps"),
        "samples_per_s": median("learner/samples_per_s"),
        "policy_lag": median("learner/policy_lag"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--json", action="store_true", help="one JSON object per run instead of a table")
    args = parser.parse_args()
    if not args.json:
        print(f"| run | steps to {args.threshold} | minutes to {args.threshold} | final success | env steps/s | samples trained/s | policy lag |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for run in args.runs:
        s = summarise(run, args.threshold)
        if s is None:
            print(f"{run}: no metrics", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(s))
            continue
        mark = "" if s["reached"] else ">"
        print(f"| {run.name} | {mark}{s['env_steps'] / 1000:.0f}k | {mark}{s['minutes']:.1f} | {s['final_success']:.2f} "
              f"| {s['fps']:.0f} | {s['samples_per_s']:.0f} | {s['policy_lag']:.1f} |")


if __name__ == "__main__":
    main()
