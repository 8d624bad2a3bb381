#!/usr/bin/env bash
# The robustness campaign (RELIABILITY.md): kill -9 trials, flashdrive faults, clock skew, the PogRPC
# starvation flood and the fuzz suites, in their long versions, then a summary of the figures. CI runs
# the short versions of the same tests as part of `npm test`.
#
#   npm run test:faults                      long mode: 50 kill -9 trials per process kind (and per gateway during
#                                            the first registration), >= 1,000,000 fuzz cases,
#                                            75 s of 500 silent reconnecting connections per PogRPC port
#   FAULTS_QUICK=1 npm run test:faults       quick mode: the CI sizes (3 trials per kind, 300 runs per fuzz property,
#                                            300 flood connections and one delivery under flood)
#
# Knobs (environment): CRASH_TRIALS (trials per process kind), CRASH_SEED (default: random, printed),
# FUZZ_TOTAL (fuzz cases to reach; FUZZ_RUNS per property is derived from it), FUZZ_RUNS (overrides
# FUZZ_TOTAL), FUZZ_SEED (see packages/core/test/fuzzUtils.ts), POGRPC_FLOOD_CONNECTIONS and
# POGRPC_FLOOD_SECONDS (the starvation flood: connections per port, and how long deliveries go on under
# it), FAULTS_LOG_DIR (where logs go; default a new temporary folder). Exit status 0 only if every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${FAULTS_QUICK:-}" ]; then
  mode=quick
  : "${CRASH_TRIALS:=3}"
  : "${COURIER_CRASH_TRIALS:=3}"
  : "${FUZZ_RUNS:=300}"
  : "${POGRPC_FLOOD_CONNECTIONS:=300}"
  : "${POGRPC_FLOOD_SECONDS:=0}"
else
  mode=long
  : "${CRASH_TRIALS:=50}"
  : "${COURIER_CRASH_TRIALS:=20}"
  : "${FUZZ_TOTAL:=1000000}"
  : "${POGRPC_FLOOD_CONNECTIONS:=500}"
  : "${POGRPC_FLOOD_SECONDS:=75}"
fi
: "${CRASH_SEED:=$((RANDOM * 32768 + RANDOM))}"
log_dir=${FAULTS_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/test-faults.XXXXXX")}
mkdir -p "$log_dir"
report="$log_dir/figures.jsonl"
: >"$report"
export FAULTS_REPORT="$report"

summary=()
failed=0
started_all=$SECONDS

# step NAME COMMAND...: run one step, its output in $log_dir/NAME.log, and record the outcome.
step() {
  local name=$1
  shift
  local started=$SECONDS
  echo "== $name: $*"
  if "$@" >"$log_dir/$name.log" 2>&1; then
    summary+=("PASS  $name ($((SECONDS - started)) s)")
  else
    summary+=("FAIL  $name ($((SECONDS - started)) s): see $log_dir/$name.log")
    failed=1
    tail -n 40 "$log_dir/$name.log"
  fi
}

echo "test-faults: $mode mode; logs in $log_dir"
step build npm run build --silent

# 1. kill -9 of each process kind at random points, each followed by a restart and the rest of the trip.
#    Each trial leaves a random number of cargo, CCAs and parcels in flight; the figures are in figures.jsonl.
#    The same file also kills either gateway at random points of the user gateway's first registration.
step crash env CRASH_TRIALS="$CRASH_TRIALS" CRASH_SEED="$CRASH_SEED" \
  node node_modules/jest/bin/jest.js packages/system-tests/test/crash.spec.ts
# ... and of the Twitter API adapter while it takes tweets and posts them to the X API (emulator).
step adapter-crash env CRASH_TRIALS="$CRASH_TRIALS" CRASH_SEED="$CRASH_SEED" \
  node node_modules/jest/bin/jest.js packages/system-tests/test/adapter-crash.spec.ts

# ... and of either gateway or the relay at random points of a registration through the courier alone (two
#    data roots, COURIER_CRASH_TRIALS per process kind, about 9 s each).
step courier-registration-crash env COURIER_CRASH_TRIALS="$COURIER_CRASH_TRIALS" CRASH_SEED="$CRASH_SEED" \
  node node_modules/jest/bin/jest.js packages/system-tests/test/courierRegistration.spec.ts -t "kill -9"

# 2. Flashdrive faults (real gateways; real tmpfs mounts when root) and the relay's own fault tests.
step flashdrive node node_modules/jest/bin/jest.js packages/system-tests/test/flashdrive.spec.ts
step flashdrive-relay node node_modules/jest/bin/jest.js --selectProjects relay

# 3. Clock skew of +-3 h between the user's computer and the Internet side.
step skew node node_modules/jest/bin/jest.js packages/system-tests/test/skew.spec.ts

# 4. PogRPC starvation: silent TCP connections that come back 200 ms after each close, more than the
#    connection cap, while real deliveries (TLS, gRPC, new connections) go on; library server, then both
#    PogRPC ports of the real processes (relaying gateway, adapter posting tweets to the X API emulator).
step pogrpc-flood env POGRPC_FLOOD_CONNECTIONS="$POGRPC_FLOOD_CONNECTIONS" POGRPC_FLOOD_SECONDS="$POGRPC_FLOOD_SECONDS" \
  node node_modules/jest/bin/jest.js --runInBand packages/pogrpc/test/starvation.flood.spec.ts packages/system-tests/test/starvation.flood.spec.ts

# 5. Fuzz suites: every spec whose path contains "fuzz". Count their property tests with one run each,
#    then size FUZZ_RUNS so that properties x runs reaches FUZZ_TOTAL.
property_count() {
  # Tests that run FUZZ_RUNS cases; sanity checks of the fixtures, regressions and fixed pathological
  # inputs run once and are not counted.
  node -e '
    const r = require(process.argv[1]);
    let n = 0;
    for (const s of r.testResults) for (const t of s.assertionResults) {
      if (t.status === "passed" && !/sanity|regression|pathological/i.test(t.fullName)) n++;
    }
    console.log(n);
  ' "$1"
}
if [ -z "${FUZZ_RUNS:-}" ]; then
  step fuzz-census env FUZZ_RUNS=1 node node_modules/jest/bin/jest.js --testPathPatterns fuzz --json --outputFile "$log_dir/fuzz-census.json"
  properties=$(property_count "$log_dir/fuzz-census.json" 2>/dev/null || echo 0)
  if [ "${properties:-0}" -gt 0 ]; then
    FUZZ_RUNS=$(((FUZZ_TOTAL + properties - 1) / properties))
  else
    FUZZ_RUNS=10000
  fi
fi
step fuzz env FUZZ_RUNS="$FUZZ_RUNS" node node_modules/jest/bin/jest.js --testPathPatterns fuzz --json --outputFile "$log_dir/fuzz.json"
properties=$(property_count "$log_dir/fuzz.json" 2>/dev/null || echo 0)
node -e '
  const [runs, properties] = process.argv.slice(1).map(Number);
  console.log(JSON.stringify({ suite: "fuzz", runsPerProperty: runs, properties, cases: runs * properties }));
' "$FUZZ_RUNS" "$properties" >>"$report"

echo
echo "test-faults: $mode mode, $((SECONDS - started_all)) s; CRASH_TRIALS=$CRASH_TRIALS CRASH_SEED=$CRASH_SEED FUZZ_RUNS=$FUZZ_RUNS" \
  "POGRPC_FLOOD_CONNECTIONS=$POGRPC_FLOOD_CONNECTIONS POGRPC_FLOOD_SECONDS=$POGRPC_FLOOD_SECONDS"
printf '  %s\n' "${summary[@]}"
echo "figures ($report):"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
  for (const line of lines) {
    const f = JSON.parse(line);
    if (f.suite === "crash") {
      for (const [kind, k] of Object.entries(f.kinds)) {
        console.log(`  kill -9 ${kind}: ${k.trials} trials (${k.midOperation} killed mid-operation)`);
      }
      for (const [what, d] of [["app -> adapter", f.parcelsToAdapter], ["adapter -> app", f.parcelsToApp]]) {
        console.log(`  parcels ${what}: ${d.sent} sent, ${d.lost} lost, ${d.duplicated} duplicated`);
      }
    } else if (f.suite === "registration-crash") {
      for (const [kind, k] of Object.entries(f.kinds)) {
        console.log(`  kill -9 ${kind} during the first registration: ${k.trials} trials (${k.pinnedFirst} pinned first; killed before the pin ${k.beforePin}, pinned but not registered ${k.pinnedNotRegistered}, registered ${k.registered})`);
      }
      console.log(`  parcels queued before registration: ${f.parcels.sent} sent, ${f.parcels.lost} lost, ${f.parcels.duplicated} duplicated`);
    } else if (f.suite === "courier-registration-crash") {
      for (const [kind, k] of Object.entries(f.kinds)) {
        console.log(`  kill -9 ${kind} during a registration through the courier: ${k.trials} trials (${k.midRun} while the relay run was under way)`);
      }
      console.log(`  parcels queued before it: ${f.parcels.sent} sent, ${f.parcels.lost} lost, ${f.parcels.duplicated} duplicated`);
    } else if (f.suite === "adapter-crash") {
      console.log(`  kill -9 twitter-api-adapter: ${f.trials} trials (${f.killedMidDelivery} mid-delivery, ${f.killedMidPost} after X posted a tweet and before the adapter knew)`);
      console.log(`  tweets: ${f.tweets} sent, ${f.lost} lost, ${f.postedTwice} posted twice, ${f.postAttemptedTwice} posting attempted twice`);
    } else if (f.suite === "pogrpc-flood") {
      console.log(`  PogRPC starvation flood (library): ${f.connections} silent connections for ${f.floodSeconds} s, cap ${f.maxConnections}: ${f.deliveries} deliveries, median ${f.latencyMs.median} ms, max ${f.latencyMs.max} ms (baseline ${f.baselineMs.join("/")} ms); ${f.shed.evicted} evicted, ${f.shed.refused} refused`);
    } else if (f.suite === "pogrpc-flood-daemons") {
      console.log(`  PogRPC starvation flood (daemons): ${f.connectionsPerPort} per port for ${f.floodSeconds} s: ${f.tweets} tweets; to the adapter median ${f.toAdapterMs.median} ms, max ${f.toAdapterMs.max} ms (baseline ${f.baselineMs.toAdapter.join("/")}); to the relaying gateway median ${f.toRelayerMs.median} ms, max ${f.toRelayerMs.max} ms (baseline ${f.baselineMs.toRelayer.join("/")})`);
    } else if (f.suite === "fuzz") {
      console.log(`  fuzz: ${f.properties} properties x ${f.runsPerProperty} runs = ${f.cases} cases`);
    } else {
      console.log(`  ${line}`);
    }
  }
' "$report"
exit $failed
