#!/usr/bin/env bash
# Installs what the tests need when it is missing: kcat,
# python3-confluent-kafka and python3-kafka (kafka-python, with its snappy,
# lz4 and zstandard codecs; both run with /usr/bin/python3) and node/npm from
# Debian's packages, then kafkajs from the lock file in
# broker/testdata/kafkajs (npm ci, only when node_modules is missing or older
# than package-lock.json). Safe to run again; it does nothing when everything
# is there.
set -euo pipefail

cd "$(dirname "$0")/.."

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || need+=(python3-confluent-kafka)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || need+=(python3-kafka)
# kafka-python's codecs beyond gzip are optional imports of these.
/usr/bin/python3 -c 'import snappy' >/dev/null 2>&1 || need+=(python3-snappy)
/usr/bin/python3 -c 'import lz4' >/dev/null 2>&1 || need+=(python3-lz4)
/usr/bin/python3 -c 'import zstandard' >/dev/null 2>&1 || need+=(python3-zstandard)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing ${need[*]}; run 'sudo apt-get install ${need[*]}' or run make test as root" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# kafkajs for broker/kafkajs_test.go, exactly as the lock file pins it.
kjs=broker/testdata/kafkajs
if [ ! -d "$kjs/node_modules" ] || [ "$kjs/package-lock.json" -nt "$kjs/node_modules" ]; then
  echo "install-test-deps: npm ci in $kjs" >&2
  (cd "$kjs" && npm ci --no-audit --no-fund --loglevel=error)
  # npm ci may keep the folder's old time; mark it as fresher than the lock.
  touch "$kjs/node_modules"
fi
