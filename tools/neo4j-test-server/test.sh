#!/usr/bin/env bash
# One command for the Neo4j integration tests: starts a Neo4j test server
# (run.sh), runs the Go tests that need it with NEO4J_URI set, and stops the
# server, whatever the outcome.
#
#   tools/neo4j-test-server/test.sh                 # go test ./neo4j/...
#   tools/neo4j-test-server/test.sh ./neo4j/... ./cmd/contextd/ -run Migrate -v
#
# Arguments are passed to `go test` (default: ./neo4j/...).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/neo4j-test.XXXXXX")"
uri_file="$work/neo4j.uri"
stop() {
	if [ -f "$uri_file.pid" ]; then
		pid="$(cat "$uri_file.pid")"
		kill "$pid" 2>/dev/null || true
		# Neo4j shuts down cleanly on SIGTERM (it may take ~10 s); its data is
		# thrown away anyway, so after 10 s it is killed.
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap stop EXIT
start=$SECONDS
NEO4J_URI="$("$here/run.sh" --background --uri-file "$uri_file" --dir "$work/data")"
export NEO4J_URI
echo "test.sh: Neo4j ready at $NEO4J_URI after $((SECONDS - start)) s" >&2
cd "$root"
if [ $# -eq 0 ]; then set -- ./neo4j/...; fi
go test "$@"
