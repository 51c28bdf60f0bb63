#!/bin/sh
# orch's Claude Code plugin runs this for every hook (hooks/hooks.json):
#   sh "${CLAUDE_PLUGIN_ROOT}/hooks/claude/plugin-hook.sh" <event>
# It runs orch-hook with the payload on stdin: $ORCH_HOOK when set, else
# orch-hook on PATH, else install.sh's default ~/.local/bin/orch-hook
# (tmux login shells often lose ~/.local/bin from PATH). Without orch-hook
# it does nothing: a plugin installed before the binaries must never show an
# error in the user's session. Never prints to stdout, always exits 0.
hook=${ORCH_HOOK:-}
if [ -z "$hook" ] || [ ! -x "$hook" ]; then
    hook=$(command -v orch-hook 2>/dev/null) || hook=
fi
if [ -z "$hook" ] && [ -x "${HOME:-/nonexistent}/.local/bin/orch-hook" ]; then
    hook=$HOME/.local/bin/orch-hook
fi
[ -n "$hook" ] || exit 0
exec "$hook" "$@" >/dev/null 2>&1
