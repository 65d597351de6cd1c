#!/usr/bin/env bash
# Runs any class from the Apache Kafka jars fetched by scripts/services.sh (kafka service), e.g.
#   scripts/services/kafka/run-class.sh org.apache.kafka.tools.ProducerPerformance --topic t --num-records 1000 \
#       --record-size 1024 --throughput -1 --producer-props bootstrap.servers=127.0.0.1:59092 acks=all
#   scripts/services/kafka/run-class.sh org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:59092 --list
# Extra JVM options: KAFKA_RUN_CLASS_OPTS (default: -Xmx512m). Logging: warnings to stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
jars="${DEDUP_LAB_CACHE_DIR:-/var/cache/dedup-lab}/kafka-$version/jars"
if [[ ! -f "$jars/.complete" ]]; then
  echo "run-class.sh: Kafka $version jars missing in $jars; run: bash scripts/services.sh up kafka" >&2
  exit 2
fi
if [[ $# -lt 1 ]]; then echo "usage: run-class.sh CLASS [args...]" >&2; exit 2; fi
# shellcheck disable=SC2086
exec java ${KAFKA_RUN_CLASS_OPTS:--Xmx512m} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$here/log4j2-tools.properties" -cp "$jars/*" "$@"
