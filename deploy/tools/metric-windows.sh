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
