#!/usr/bin/env bash
# Compatibility run: orch's end-to-end suites against the NEWEST published
# version of each agent CLI (not the pins in .ci/agent-versions), then a
# table of what passed. Needs npm and the registry; runs offline otherwise
# (each suite talks to a local mock of its model API).
#
# usage: share/compat.sh [AGENT…]     default: every row of .ci/agent-versions
#                                      except `claude` (its package is tested
#                                      as claude-newest)
#   e.g. share/compat.sh claude-newest codex
#
# How: for agent NAME, ORCH_AGENT_VERSION_<NAME>=latest (upper-cased, - as _)
# makes the test kit install `<package>@latest` into the e2e cache (via
# .ci/install-agent.sh), then `cargo test -p orch-cli --test it <filter>`
# runs that agent's suite: `e2e_<name>` (the module of each harness's
# tests), or for claude-newest the `::newest` variant of every Claude test.
# Exit status: 0 when every suite passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

versions=.ci/agent-versions
if [ $# -gt 0 ]; then
    agents=("$@")
else
    mapfile -t agents < <(awk '!/^#/ && NF && $1 != "claude" { print $1 }' "$versions")
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
logs=${COMPAT_LOG_DIR:-$CARGO_TARGET_DIR/compat}
mkdir -p "$logs"
cargo build -q --tests -p orch-cli || exit 1

rows=()
status=0
for agent in "${agents[@]}"; do
    row=$(awk -v n="$agent" '$1 == n { print $2, $3 }' "$versions")
    if [ -z "$row" ]; then
        echo "compat: unknown agent '$agent' (see $versions)" >&2
        exit 2
    fi
    read -r package pinned <<<"$row"
    var="ORCH_AGENT_VERSION_$(printf '%s' "$agent" | tr 'a-z-' 'A-Z_')"
    case "$agent" in
        *-newest) filter="::newest" ;;
        *) filter="e2e_$agent" ;;
    esac
    # The version `latest` means right now (install-agent.sh asks npm too).
    latest=$(npm view "$package" version 2>/dev/null || echo "?")
    log="$logs/$agent.log"
    echo "=== $agent: $package@$latest (pinned $pinned): cargo test … $filter" >&2
    env "$var=latest" cargo test -p orch-cli --test it "$filter" >"$log" 2>&1
    passed=$(grep -c '^test .* \.\.\. ok$' "$log")
    failed=$(grep -c '^test .* \.\.\. FAILED$' "$log")
    skipped=$(grep -c '^SKIPPED' "$log")
    if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
        result="no tests ran (see $log)"
        status=1
    elif [ "$failed" -gt 0 ] || [ "$skipped" -gt 0 ]; then
        result="FAIL: $(grep '^test .* \.\.\. FAILED$' "$log" | sed 's/^test \(.*\) \.\.\. FAILED$/\1/' | tr '\n' ' ')"
        [ "$skipped" -gt 0 ] && result="$result($skipped skipped)"
        status=1
    else
        result="ok"
    fi
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$agent" "$package" "$pinned" "$latest" "$passed" "$failed" "$result")")
done

echo
echo "| agent | package | pinned | newest | passed | failed | result |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$status"
