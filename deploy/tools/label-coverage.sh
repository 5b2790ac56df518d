#!/usr/bin/env bash
# Does the LLM keep up? For each run directory, at every tenth of its steps: distinct messages,
# how many the LLM has labelled (and their share), new distinct messages per second against
# labels per second over the tenth just ended, and the share of the last 100k steps' message
# occurrences that had an LLM label when the learner took them in
# (messages/labelled_occurrence_share; runs made before that metric show "-").
#   bash deploy/tools/label-coverage.sh RUN_DIR...
# Needs the sqlite3 shell (Debian: sqlite3).
set -euo pipefail
for dir in "$@"; do
  dir=${dir%/}
  db=$dir/oni.sqlite
  steps=$(sqlite3 "$db" "SELECT max(env_steps) FROM metrics")
  echo "$(basename "$dir"): $steps env steps"
  printf '%10s %9s %9s %9s %12s %10s %16s\n' "env steps" distinct labelled "share" "new msgs/s" "labels/s" "occurrences lab."
  sqlite3 -separator ' ' "$db" "
    WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 10),
    at(k, s) AS (SELECT k, (SELECT min(env_steps) FROM metrics WHERE name = 'messages/distinct' AND env_steps >= k * $steps / 10) FROM n),
    v(k, s, d, l, t, o) AS (SELECT k, s,
      (SELECT value FROM metrics WHERE name = 'messages/distinct' AND env_steps = s),
      (SELECT value FROM metrics WHERE name = 'messages/labelled' AND env_steps = s),
      (SELECT value FROM metrics WHERE name = 'learner/uptime_s' AND env_steps = s),
      (SELECT value FROM metrics WHERE name = 'messages/labelled_occurrence_share' AND env_steps = s) FROM at)
    SELECT printf('%10d %9d %9d %9.3f %12s %10s %16s', v.s, v.d, v.l, v.l / v.d,
      CASE WHEN p.t IS NULL OR v.t <= p.t THEN '-' ELSE printf('%.2f', (v.d - p.d) / (v.t - p.t)) END,
      CASE WHEN p.t IS NULL OR v.t <= p.t THEN '-' ELSE printf('%.2f', (v.l - p.l) / (v.t - p.t)) END,
      CASE WHEN v.o IS NULL THEN '-' ELSE printf('%.3f', v.o) END)
    FROM v LEFT JOIN v AS p ON p.k = v.k - 1 WHERE v.s IS NOT NULL ORDER BY v.k"
done
