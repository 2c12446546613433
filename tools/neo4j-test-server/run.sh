#!/usr/bin/env bash
# Starts a real Neo4j (community, neo4j-harness from Maven Central) for
# contextd's tests, without Docker, and prints its Bolt URI when it is ready.
#
#   tools/neo4j-test-server/run.sh [--background] [--uri-file FILE] [--port N] [--dir DIR [--resume]]
#
# In the foreground (the default) it runs until Ctrl-C or SIGTERM. With
# --background it starts the server, waits until it is ready, prints the URI
# on stdout, writes the server's pid to FILE.pid (with --uri-file FILE) and
# returns; stop it with `kill $(cat FILE.pid)`.
#
# The first run builds the launcher with Maven (about 190 MB of artifacts
# into ~/.m2, a minute or two); later runs use the local repository and
# skip the build while target/ is up to date.
#
# Environment: NEO4J_TEST_HEAP (JVM heap, default 1g), NEO4J_TEST_PAGECACHE
# (page cache, default 256m), NEO4J_TEST_START_TIMEOUT (seconds, default 180).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
background=0
uri_file=""
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--background) background=1 ;;
	--uri-file) uri_file="$2"; shift ;;
	--port | --dir) args+=("$1" "$2"); shift ;;
	--resume) args+=("$1") ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

command -v java >/dev/null || { echo "run.sh: java (17+) is needed" >&2; exit 1; }
command -v mvn >/dev/null || { echo "run.sh: mvn (Maven 3) is needed" >&2; exit 1; }

# Build when the jar is missing or older than the sources.
jar="$here/target/neo4j-test-server.jar"
if [ ! -f "$jar" ] || [ ! -d "$here/target/lib" ] || [ -n "$(find "$here/pom.xml" "$here/src" -newer "$jar" -print -quit)" ]; then
	echo "run.sh: building the Neo4j test server (first time: downloads from Maven Central)" >&2
	offline=()
	# Offline when everything is already in the local repository.
	if [ -f "$jar" ]; then offline=(-o); fi
	(cd "$here" && { mvn -q -B "${offline[@]}" package || { [ ${#offline[@]} -gt 0 ] && mvn -q -B package; }; }) >&2
fi

if [ -z "$uri_file" ]; then
	uri_file="$(mktemp -u "${TMPDIR:-/tmp}/neo4j-test-server.XXXXXX.uri")"
fi
rm -f "$uri_file"
cmd=(java "-Xmx${NEO4J_TEST_HEAP:-1g}" -XX:+UseG1GC -cp "$jar:$here/target/lib/*"
	io.contextd.neo4jtest.Main --uri-file "$uri_file" --pagecache "${NEO4J_TEST_PAGECACHE:-256m}" "${args[@]}")

if [ "$background" = 0 ]; then
	exec "${cmd[@]}"
fi

log="${uri_file%.uri}.log"
"${cmd[@]}" </dev/null >/dev/null 2>"$log" &
pid=$!
echo "$pid" >"$uri_file.pid"
deadline=$((SECONDS + ${NEO4J_TEST_START_TIMEOUT:-180}))
while [ ! -s "$uri_file" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: the Neo4j test server exited before it was ready; its log ($log):" >&2
		tail -40 "$log" >&2
		exit 1
	fi
	if [ $SECONDS -ge $deadline ]; then
		echo "run.sh: the Neo4j test server was not ready in time; its log ($log):" >&2
		tail -40 "$log" >&2
		kill "$pid" 2>/dev/null || true
		exit 1
	fi
	sleep 0.5
done
cat "$uri_file"
