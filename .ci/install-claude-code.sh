#!/usr/bin/env bash
# Install the pinned Claude Code CLI for orch's end-to-end tests
# (docs/claude-code-e2e.md). Idempotent: does nothing when the pinned version
# is already in the cache. Installs node/npm with apt-get when npm is missing.
#
# usage: .ci/install-claude-code.sh [CACHE_DIR]
#   CACHE_DIR defaults to $ORCH_E2E_CACHE, else ${CARGO_TARGET_DIR:-<repo>/target}/e2e-cache
#   (where the tests look). Prints the path of the installed binary last.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
version=$(tr -d '[:space:]' <"$here/claude-code-version")
cache=${1:-${ORCH_E2E_CACHE:-${CARGO_TARGET_DIR:-$repo/target}/e2e-cache}}

say() { printf 'install-claude-code: %s\n' "$*" >&2; }

# The wrapper package's postinstall copies the platform's native binary over
# bin/claude.exe. If a package manager skipped install scripts, the native
# binary is still in the platform package: use it directly.
find_bin() {
    local c
    for c in "$cache/node_modules/@anthropic-ai/claude-code/bin/claude.exe" \
        "$cache"/node_modules/@anthropic-ai/claude-code-linux-*/claude; do
        if [ -x "$c" ] && "$c" --version 2>/dev/null | grep -q "^$version "; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

if bin=$(find_bin); then
    say "Claude Code $version already installed"
    printf '%s\n' "$bin"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "npm is missing and apt-get is not available: install Node.js (>= 18) and npm, then rerun"
        exit 1
    fi
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "npm is missing: installing nodejs and npm with apt-get"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q nodejs npm
fi

mkdir -p "$cache"
# One installer at a time per cache (parallel test runs, CI retries).
exec 9>"$cache/.install.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if ! bin=$(find_bin); then
    [ -f "$cache/package.json" ] || printf '{"private": true}\n' >"$cache/package.json"
    say "installing @anthropic-ai/claude-code@$version into $cache"
    npm install --prefix "$cache" --no-audit --no-fund --save-exact --loglevel=error \
        "@anthropic-ai/claude-code@$version" >&2
    if ! bin=$(find_bin) && [ -f "$cache/node_modules/@anthropic-ai/claude-code/install.cjs" ]; then
        say "running the package's postinstall by hand"
        (cd "$cache/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2 || true
    fi
    if ! bin=$(find_bin); then
        say "installed, but no working 'claude' $version binary found under $cache/node_modules"
        exit 1
    fi
fi
say "Claude Code $version ready"
printf '%s\n' "$bin"
