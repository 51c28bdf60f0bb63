#!/bin/sh
# orch glue for Codex CLI, installed by `orch up` (removed by `orch down`).
# Codex runs its `notify` program with the event as one JSON argument when a
# turn completes; orch-hook reads its payload on stdin, so hand the argument
# over unchanged (quoted: the shell never interprets it).
[ -n "$1" ] || exit 0
printf '%s' "$1" | @ORCH_HOOK_SH@ agent-turn-complete --harness codex
exit 0
