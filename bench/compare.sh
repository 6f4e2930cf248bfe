#!/usr/bin/env bash
# Alternate bench/throughput.py runs of a base commit and of this working tree on one core, so both see the same
# machine noise (repeated runs on this machine kind vary by ±15%; a before/after pair taken minutes apart can mislead).
#
#   bench/compare.sh BASE_COMMIT RUNS [throughput.py arguments]
#   bench/compare.sh HEAD~1 6 --input ../shared/corpus/reuters21578/docs.jsonl
#
# Prints the end-to-end docs/s of each pair and the median of each side.
set -euo pipefail
base=$1
runs=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
tree=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add -q --detach "$tree" "$base"
figure() {
  local dir=$1
  shift
  taskset -c "${CORE:-0}" "$python" "$dir/bench/throughput.py" "$@" 2>&1 | awk '/end-to-end/ {gsub(",", "", $(NF-1)); print $(NF-1)}'
}
before=() after=()
for _ in $(seq "$runs"); do
  b=$(figure "$tree" "$@")
  h=$(figure "$root" "$@")
  before+=("$b") after+=("$h")
  echo "base $b docs/s   working tree $h docs/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "median: base $(median "${before[@]}") docs/s, working tree $(median "${after[@]}") docs/s"
