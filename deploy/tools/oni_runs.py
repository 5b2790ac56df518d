"""Oni runs as pandas DataFrames, for notebooks and plots of one's own.

    import sys; sys.path.insert(0, "deploy/tools")
    import oni_runs
    m = oni_runs.metrics(["runs/a", "runs/b"])          # one row per metrics snapshot, a column per metric
    m.pivot_table(index="env_steps", columns="run", values="env/success_rate").plot()
    e = oni_runs.episodes("runs/a")                       # every finished episode of the live agent
    l = oni_runs.labels("runs/a")                         # every message with its count and current label
    v = oni_runs.evaluations("runs/a")                    # `oni evaluate` results by checkpoint
    c = oni_runs.config("runs/a")                         # the run's options and what made it (dict)

or from the shell, one CSV per table and run:

    python3 deploy/tools/oni_runs.py RUN_DIR [RUN_DIR ...] --csv OUT_DIR

It reads only what a run directory holds (`metrics.jsonl`, `oni.sqlite` opened read-only,
`config.json`), so it works on a run that is still going. Needs pandas (pip install pandas);
nothing else. To send a run to Weights & Biases: `wandb sync --sync-tensorboard RUN_DIR/tb`
(the learner's TensorBoard event files), or log these frames with `wandb.log`.
"""
import argparse
import json
import os
import sqlite3
import sys

import pandas as pd


def _runs(run_dirs):
    return [run_dirs] if isinstance(run_dirs, (str, os.PathLike)) else list(run_dirs)


def _name(run_dir):
    return os.path.basename(os.path.normpath(run_dir))


def _query(run_dir, sql):
    path = os.path.join(run_dir, "oni.sqlite")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist: not an Oni run directory")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        frame = pd.read_sql_query(sql, db)
    frame.insert(0, "run", _name(run_dir))
    return frame


def metrics(run_dirs):
    """Every metrics snapshot (metrics.jsonl): run, unix_ms, env_steps, time (UTC), then a column per metric."""
    frames = []
    for run_dir in _runs(run_dirs):
        rows = []
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    rows.append({"unix_ms": row["unix_ms"], "env_steps": row["env_steps"], **row.get("values", {})})
        frame = pd.DataFrame(rows)
        frame.insert(0, "run", _name(run_dir))
        frame.insert(2, "time", pd.to_datetime(frame["unix_ms"], unit="ms", utc=True))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def episodes(run_dirs):
    """Every finished episode: worker, env index, seed, return, length, success, the learner's env steps."""
    return pd.concat([_query(d, "SELECT * FROM episodes ORDER BY id") for d in _runs(run_dirs)], ignore_index=True)


def labels(run_dirs):
    """Every message with its count, first sighting and current label (NULL: none yet), and who labelled it."""
    sql = """SELECT m.id, m.text, m.count, m.first_seen_env_steps, l.label, l.confidence, l.model, l.prompt_hash
             FROM messages m JOIN message_labels l ON l.id = m.id ORDER BY m.count DESC"""
    return pd.concat([_query(d, sql) for d in _runs(run_dirs)], ignore_index=True)


def evaluations(run_dirs):
    """`oni evaluate` results, by the env steps each checkpoint was trained on."""
    return pd.concat([_query(d, "SELECT * FROM evaluations ORDER BY trained_env_steps, id") for d in _runs(run_dirs)], ignore_index=True)


def config(run_dir):
    """RUN_DIR/config.json: {"options": every resolved option, "made_by": version, commit, LLM, NLE}."""
    with open(os.path.join(run_dir, "config.json")) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description="Write Oni runs' metrics, episodes, labels and evaluations as CSV files.")
    parser.add_argument("runs", nargs="+", help="run directories")
    parser.add_argument("--csv", required=True, help="directory for metrics.csv, episodes.csv, labels.csv, evaluations.csv")
    args = parser.parse_args()
    os.makedirs(args.csv, exist_ok=True)
    for name, read in [("metrics", metrics), ("episodes", episodes), ("labels", labels), ("evaluations", evaluations)]:
        try:
            frame = read(args.runs)
        except (FileNotFoundError, pd.errors.DatabaseError) as error:
            print(f"{name}: skipped ({error})", file=sys.stderr)
            continue
        path = os.path.join(args.csv, f"{name}.csv")
        frame.to_csv(path, index=False)
        print(f"{name}: {len(frame)} rows -> {path}")


if __name__ == "__main__":
    main()
