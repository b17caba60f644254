#!/usr/bin/env bash
# Seconds from `make run` in a fresh clone to the first successful prediction, and the venv's size.
# Usage: bench/first_answer.sh CLONE_DIR [PORT]. The ONNX encoder cache starts empty (a new user's has
# nothing), so any export the first start needs is counted.
set -euo pipefail
dir=$1
port=${2:-8765}
cd "$dir"
export COMMENT_MODERATION_CACHE="$dir/.bench-onnx-cache"
rm -rf "$COMMENT_MODERATION_CACHE"
start=$(date +%s.%N)
setsid make run PORT="$port" >make-run.log 2>&1 &
pgid=$!
trap 'kill -- -$pgid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  kill -0 "$pgid" 2>/dev/null || { echo "make run exited; see $dir/make-run.log" >&2; tail -20 make-run.log >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/v1/predict" -H 'content-type: application/json' \
  -d '{"comments": [{"id": "c1", "text": "Why does the ministry list the State Post Bureau among the enforcers?"}]}'
echo
end=$(date +%s.%N)
echo "seconds to first answer: $(echo "$end - $start" | bc)"
echo "venv size: $(du -sh .venv | cut -f1)"
