#!/usr/bin/env bash
# Runs every Go fuzz target of the workspace for FUZZTIME each (default 3s),
# one after the other, and prints the corpus size of each target at the end.
#   scripts/fuzz.sh            # CI: a few seconds each
#   FUZZTIME=5m scripts/fuzz.sh  # make fuzz: longer
# A failing input is written by go test under the package's
# testdata/fuzz/<Target>/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
status=0
count() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }
summary=()
for mod in shared edge hub; do
  while IFS= read -r file; do
    pkg=./$(dirname "${file#"$mod"/}")
    for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
      echo "== fuzz $mod/${pkg#./} $target for $FUZZTIME"
      if ! (cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"); then
        status=1
      fi
      dir="$mod/${pkg#./}/testdata/fuzz/$target"
      cache="$(go env GOCACHE)/fuzz/github.com/gridedge/gridedge/$mod/${pkg#./}/$target"
      n=$(( $(count "$dir") + $(count "$cache") ))
      summary+=("$mod/${pkg#./} $target: corpus $n entries")
    done
  done < <(grep -rl --include='*_test.go' '^func Fuzz' "$mod" | sort)
done
printf '%s\n' "== fuzz corpus sizes" "${summary[@]}"
exit $status
