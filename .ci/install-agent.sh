#!/usr/bin/env bash
# Install one pinned agent CLI (.ci/agent-versions) for orch's end-to-end
# tests, into its own prefix under the e2e cache. Idempotent; one installer
# at a time per cache. Prints the path of the installed binary last.
#
# usage: .ci/install-agent.sh NAME [CACHE_DIR]
#   NAME       a row of .ci/agent-versions (claude, claude-newest, codex, …)
#   CACHE_DIR  defaults to $ORCH_E2E_CACHE, else ${CARGO_TARGET_DIR:-<repo>/target}/e2e-cache
#   ORCH_AGENT_VERSION=<v|latest> overrides the pinned version (the
#   compatibility run against the newest releases uses `latest`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
name=${1:?usage: .ci/install-agent.sh NAME [CACHE_DIR]}
cache=${2:-${ORCH_E2E_CACHE:-${CARGO_TARGET_DIR:-$repo/target}/e2e-cache}}

say() { printf 'install-agent %s: %s\n' "$name" "$*" >&2; }

row=$(awk -v n="$name" '$1 == n { print $2, $3, $4 }' "$here/agent-versions")
if [ -z "$row" ]; then
    say "unknown agent '$name': use one of: $(awk '!/^#/ && NF { printf "%s ", $1 }' "$here/agent-versions")"
    exit 2
fi
read -r package version binary <<<"$row"
version=${ORCH_AGENT_VERSION:-$version}

if [ "$version" = latest ]; then
    command -v npm >/dev/null 2>&1 || { say "npm is missing: install Node.js and npm"; exit 1; }
    version=$(npm view "$package" version 2>/dev/null) || { say "npm view $package failed (no registry?)"; exit 1; }
fi
prefix="$cache/$name-$version"
bin="$prefix/node_modules/.bin/$binary"

if [ -x "$bin" ]; then
    printf '%s\n' "$bin"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "npm is missing and apt-get is not available: install Node.js (>= 20) and npm, then rerun"
        exit 1
    fi
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "npm is missing: installing nodejs and npm with apt-get"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q nodejs npm
fi

mkdir -p "$prefix"
exec 9>"$cache/.install-$name.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ ! -x "$bin" ]; then
    [ -f "$prefix/package.json" ] || printf '{"private": true}\n' >"$prefix/package.json"
    say "installing $package@$version into $prefix"
    # Never the real home's npm cache or config: tests and CI stay private.
    npm install --prefix "$prefix" --no-audit --no-fund --save-exact --loglevel=error \
        "$package@$version" >&2
fi
if [ ! -x "$bin" ]; then
    say "installed, but $bin is missing"
    exit 1
fi
say "$package $version ready"
printf '%s\n' "$bin"
