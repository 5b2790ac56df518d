# Sourced by the evidence scripts: prints, for each run directory, a metric's first value at or
# after each tenth of the steps (the run directory's oni.sqlite; needs the sqlite3 shell).
#   metric_windows METRIC STEPS DIR...
metric_windows() {
  local metric=$1 steps=$2 dir
  shift 2
  for dir in "$@"; do
    dir=${dir%/}
    printf '%-22s' "$(basename "$dir")"
    sqlite3 "$dir/oni.sqlite" "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 10)
      SELECT group_concat(v, ' ') FROM (SELECT (SELECT printf('%.2f', value) FROM metrics WHERE name = '$metric'
        AND env_steps >= k * $steps / 10 ORDER BY env_steps LIMIT 1) AS v FROM n)"
  done
}

# The mean episode return ± standard error (and the number of episodes) of the episodes that
# ended in each of WINDOWS equal parts of the steps, per run directory.
#   episode_windows STEPS WINDOWS DIR...
episode_windows() {
  local steps=$1 windows=$2 dir
  shift 2
  for dir in "$@"; do
    dir=${dir%/}
    printf '%-22s' "$(basename "$dir")"
    sqlite3 "$dir/oni.sqlite" "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < $windows - 1),
      e AS (SELECT learner_env_steps * $windows / $steps AS k, episode_return AS r FROM episodes),
      w AS (SELECT n.k, count(r) AS c, avg(r) AS m, avg(r * r) AS m2 FROM n LEFT JOIN e ON e.k = n.k GROUP BY n.k ORDER BY n.k)
      SELECT group_concat(CASE WHEN c > 1 THEN printf('%.1f±%.1f(%d)', m, sqrt(max(m2 - m * m, 0) / (c - 1)), c) ELSE '-' END, ' ') FROM w"
  done
}
