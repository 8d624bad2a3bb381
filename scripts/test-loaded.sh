#!/usr/bin/env bash
# The whole `npm test` while two CPU-bound processes keep both cores busy: timing assumptions in the tests
# (a sleep that is "long enough", a timeout that a quiet machine always meets) fail here instead of in CI at
# random. The burners are killed at the end, whatever happens (exit, failure, Ctrl-C).
#
#   npm run test:loaded                 two burners (one per core of the CI machine)
#   LOAD_PROCESSES=4 npm run test:loaded
#
# Exit status: that of `npm test`.
set -uo pipefail
cd "$(dirname "$0")/.."

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${burners[@]}"; do
    wait "$pid" 2>/dev/null
  done
  burners=()
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq 1 "${LOAD_PROCESSES:-2}"); do
  # A busy loop in its own process: pure CPU, no memory or I/O, at the same priority as the tests. It also
  # exits by itself once this script is gone, should the script be killed with no chance to clean up.
  node -e 'const parent = process.ppid; for (let i = 1; ; i++) if (i % 2e8 === 0) { try { process.kill(parent, 0); } catch { process.exit(0); } }' &
  burners+=("$!")
done
echo "test:loaded: ${#burners[@]} CPU-bound processes running (pids ${burners[*]}); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

started=$SECONDS
npm test "$@"
status=$?
echo "test:loaded: npm test exited with $status after $((SECONDS - started)) s under load; load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
exit $status
