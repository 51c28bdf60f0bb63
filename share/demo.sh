#!/bin/sh
# orch in a minute, with no API key: spawn two echo agents (orch's built-in
# agent), tell one, listen for its reply, ask the other and wait, survey.
# Each step prints its command and its real output.
#
# Everything happens in a private tmux server and a private state dir under
# a temp directory, removed at the end: your tmux sessions and orch state
# are not touched. Works without a terminal (CI) too.
#
#   sh share/demo.sh          # run and clean up
#   sh share/demo.sh --keep   # leave the agents running and say how to look
set -eu

keep=0
case ${1:-} in
--keep) keep=1 ;;
"") ;;
*) printf 'usage: sh share/demo.sh [--keep]\n' >&2; exit 2 ;;
esac

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
# Use the binaries on PATH, else the ones a `cargo build` left in this
# checkout, else those next to an installed copy ($PREFIX/share/orch/demo.sh).
if ! command -v orch-spawn >/dev/null 2>&1; then
    for d in "$here/../target/release" "$here/../target/debug" "$here/../../bin"; do
        if [ -x "$d/orch-spawn" ]; then
            PATH="$(cd "$d" && pwd):$PATH"
            export PATH
            break
        fi
    done
fi
command -v orch-spawn >/dev/null 2>&1 || die "orch is not installed: run ./install.sh first"
command -v tmux >/dev/null 2>&1 || die "tmux is not installed (apt-get install tmux / brew install tmux)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/orch-demo.XXXXXX")
sock=$tmp/tmux.sock
cleanup() {
    tmux -S "$sock" kill-server >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
if [ "$keep" = 0 ]; then
    trap cleanup EXIT
    trap 'exit 130' INT TERM
fi

# A private world: orch's state and config, and its own tmux server.
export ORCH_STATE_DIR="$tmp/state" ORCH_CONFIG_DIR="$tmp/config"
unset TMUX TMUX_PANE ORCH_TMUX_SOCKET
tmux -S "$sock" -f /dev/null new-session -d -s demo -x 160 -y 40
pid=$(tmux -S "$sock" display-message -p '#{pid}')
# Run the commands as if typed in the session's first pane (%0), where an
# operator would sit: spawned agents appear beside it.
export TMUX="$sock,$pid,0" TMUX_PANE=%0

step=""
run() {
    step=$1
    printf '\n$ %s\n' "$1"
    eval "$1"
}
trap_fail() { [ -z "$step" ] || printf '\ndemo: failed at: %s\n' "$step" >&2; }

printf 'orch demo: two echo agents in a private tmux server (%s)\n' "$sock"
printf '# The echo agent answers "echo: <first line> [size, lines, hash]" and\n'
printf '# fires the same hooks Claude Code does, so orch sees its turns.\n'

# 1. spawn: a new pane, ready when the agent's own session_start event fires.
run "orch spawn echo --name alice" || { trap_fail; exit 1; }
run "orch spawn echo --name bob" || { trap_fail; exit 1; }
# 2. tell: typed exactly once; returns when the agent acknowledges the prompt.
run "orch tell alice 'Summarize the plan in one line'" || { trap_fail; exit 1; }
# 3. listen: blocks (inotify, no polling) until alice's turn ends.
run "orch listen alice --timeout 30" || { trap_fail; exit 1; }
# tell --wait: deliver and bring back the reply in one call.
run "orch tell bob --wait 'hello bob'" || { trap_fail; exit 1; }
# 4. survey: what every agent is doing.
run "orch survey --pretty" || { trap_fail; exit 1; }
run "orch survey --status-line" || { trap_fail; exit 1; }
alice=$(orch survey alice | sed -n 's/.*"pane":"\(%[0-9]*\)".*/\1/p')
run "tmux capture-pane -p -J -t $alice | grep -v '^\$'   # alice's screen" || { trap_fail; exit 1; }

if [ "$keep" = 1 ]; then
    printf '\ndemo finished; the agents are still running. Look at them:\n'
    printf '  tmux -S %s attach -t demo\n' "$sock"
    printf 'and try, in that session:\n  orch tell alice hi --wait\n'
    printf 'Clean up:\n  tmux -S %s kill-server; rm -rf %s\n' "$sock" "$tmp"
else
    printf '\ndemo finished; its tmux server and state are removed. Run it with --keep to look around.\n'
fi
