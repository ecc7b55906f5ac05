#!/usr/bin/env bash
# compat.sh runs franz-go's own integration tests (pkg/kgo, from the Go module
# cache at the version in go.mod) against a Sluice broker.
#
#   scripts/compat.sh                 build bin/sluice, start it on a free port, run the suite
#   KGO_SEEDS=host:port scripts/compat.sh   run the suite against a broker already running
#
# KGO_TEST_RECORDS (default 2000) sets how many records each test produces.
# COMPAT_RUN / COMPAT_SKIP are -test.run / -test.skip patterns; by default
# nothing is skipped (the SASL and share-group tests skip themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RECORDS=${KGO_TEST_RECORDS:-2000}
SKIP=${COMPAT_SKIP:-'^$'}
RUN=${COMPAT_RUN:-.}

work=$(mktemp -d)
broker_pid=""
cleanup() {
	if [[ -n "$broker_pid" ]]; then
		kill -TERM "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fgver=$($GO list -m -f '{{.Version}}' github.com/twmb/franz-go)
pkgdir=$($GO list -m -f '{{.Dir}}' github.com/twmb/franz-go)/pkg/kgo
echo "compat: building franz-go $fgver pkg/kgo tests"
$GO test -c -o "$work/kgo.test" github.com/twmb/franz-go/pkg/kgo

seeds=${KGO_SEEDS:-}
if [[ -z "$seeds" ]]; then
	$GO build -o "$work/sluice" ./cmd/sluice
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	seeds=127.0.0.1:$port
	echo "compat: starting sluice on $seeds (log in $work/broker.log)"
	"$work/sluice" broker --set "log.dirs=$work/data" --set "listeners=PLAINTEXT://$seeds" \
		--set group.initial.rebalance.delay.ms=0 >"$work/broker.log" 2>&1 &
	broker_pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
		if ! kill -0 "$broker_pid" 2>/dev/null; then cat "$work/broker.log"; echo "compat: broker exited"; exit 1; fi
		sleep 0.1
	done
fi

echo "compat: running pkg/kgo tests against $seeds (KGO_TEST_RECORDS=$RECORDS, skipping $SKIP)"
status=0
(cd "$pkgdir" && KGO_SEEDS=$seeds KGO_TEST_RF=1 KGO_TEST_RECORDS=$RECORDS \
	"$work/kgo.test" -test.run "$RUN" -test.skip "$SKIP" -test.timeout 10m -test.v) >"$work/kgo.out" 2>&1 || status=$?
grep -E '^(--- (FAIL|SKIP)|ok|FAIL|PASS)' "$work/kgo.out" || true
pass=$(grep -c '^--- PASS' "$work/kgo.out" || true)
fail=$(grep -c '^--- FAIL' "$work/kgo.out" || true)
skip=$(grep -c '^--- SKIP' "$work/kgo.out" || true)
echo "compat: $pass passed, $fail failed, $skip skipped"
if [[ $status -ne 0 ]]; then
	echo "compat: FAILED; the failing tests' output:"
	awk '/^--- FAIL/{p=1; print; next} /^[^ \t]/{p=0} p' "$work/kgo.out" | tail -200
	if [[ -n "$broker_pid" ]]; then echo "--- broker log (tail) ---"; tail -50 "$work/broker.log"; fi
	exit 1
fi
