#!/usr/bin/env bash
# mongo-server.sh — run de.bwaldvogel:mongo-java-server (an in-memory MongoDB
# wire-protocol server from Maven Central) for the mongo store backend tests.
#
#   scripts/mongo-server.sh fetch   download the jars with mvn into .tools/ (git-ignored)
#   scripts/mongo-server.sh run     serve in the foreground on a free 127.0.0.1 port;
#                                   prints the URI first; stops when stdin closes
#                                   (the Go tests start it like this)
#   scripts/mongo-server.sh start   serve in the background; prints the URI
#   scripts/mongo-server.sh stop    stop the server that `start` started
#   scripts/mongo-server.sh uri     print the URI of the running server
#
# Needs Java 17+ and mvn (fetch only). Environment: MONGO_SERVER_PORT (0 = free
# port), GRIDEDGE_TOOLS (default <repo>/.tools).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=${GRIDEDGE_TOOLS:-$root/.tools}
dir=$tools/mongo-java-server
lib=$dir/lib
run=$dir/run
src=$root/scripts/mongo-java-server
port=${MONGO_SERVER_PORT:-0}

die() { echo "mongo-server: $*" >&2; exit 1; }

fetch() {
	if compgen -G "$lib/mongo-java-server-memory-backend-*.jar" >/dev/null; then
		return
	fi
	command -v mvn >/dev/null || die "mvn is not installed (needed once to fetch the jars)"
	mkdir -p "$lib"
	echo "mongo-server: fetching mongo-java-server with mvn into $lib" >&2
	mvn -q -B -f "$src/pom.xml" -Dmaven.repo.local="$tools/m2" \
		dependency:copy-dependencies -DoutputDirectory="$lib" >&2 ||
		die "mvn could not fetch de.bwaldvogel:mongo-java-server"
}

java_cmd() {
	command -v java >/dev/null || die "java is not installed"
	cmd=(java -XX:+UseSerialGC -cp "$lib/*" "$src/MongoServerMain.java" 127.0.0.1 "$port")
}

case "${1:-}" in
fetch)
	fetch
	;;
run)
	fetch
	# exec: the caller's signals and stdin reach Java directly
	java_cmd
	exec "${cmd[@]}"
	;;
start)
	fetch
	mkdir -p "$run"
	if [[ -f $run/pid ]] && kill -0 "$(cat "$run/pid")" 2>/dev/null; then
		cat "$run/uri"
		exit 0
	fi
	rm -f "$run/uri"
	java_cmd
	MONGO_SERVER_DAEMON=1 nohup "${cmd[@]}" </dev/null >"$run/out" 2>"$run/err" &
	echo $! >"$run/pid"
	for _ in $(seq 1 300); do
		if [[ -s $run/out ]]; then
			head -n1 "$run/out" >"$run/uri"
			cat "$run/uri"
			exit 0
		fi
		kill -0 "$(cat "$run/pid")" 2>/dev/null || die "server exited: $(cat "$run/err")"
		sleep 0.1
	done
	die "server did not print its URI within 30 s"
	;;
stop)
	if [[ -f $run/pid ]]; then
		kill "$(cat "$run/pid")" 2>/dev/null || true
		rm -f "$run/pid" "$run/uri"
	fi
	;;
uri)
	[[ -f $run/uri ]] || die "not running (scripts/mongo-server.sh start)"
	cat "$run/uri"
	;;
*)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
