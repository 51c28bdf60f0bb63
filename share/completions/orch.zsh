#compdef orch

autoload -U is-at-least

_orch() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
":: :_orch_commands" \
"*::: :->orch" \
&& ret=0
    case $state in
    (orch)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:orch-command-$line[1]:"
        case $line[1] in
            (tell)
_arguments "${_arguments_options[@]}" : \
'(--all)*--to=[Fan out\: tell each of these (comma-separated) in parallel; then every positional word is text. One JSON line per target]:TARGET,…:_default' \
'--role=[With --all\: only agents with this role (worker, observer, operator…)]:ROLE:_default' \
'--file=[Read the prompt from this file (\`-\`\: stdin)]:FILE:_files' \
'--timeout=[Give up after this many seconds in total (waiting for the target to be idle, for the receipt, and with --wait for the reply)]:SECS:_default' \
'--escalate=[Mark a question to the operator with its axis\: taste, architecture, ethics or reversibility]:AXIS:_default' \
'--from=[Send as this pane (default\: the pane tell runs in, TMUX_PANE). Only the operator may send as another pane]:PANE:_default' \
'--pane=[With --audit\: only sends from or to this pane (id or name)]:PANE:_default' \
'--since=[With --audit\: only records newer than this (90s, 10m, 2h, 3d)]:DURATION:_default' \
'--all[Fan out to every live agent you may tell (not yourself, not the operator); every positional word is text. One JSON line per target]' \
'--wait[After delivery, wait for that turn to end and include its reply]' \
'--queue[If the target is mid-turn, type now (the harness queues it) instead of waiting for the turn to end]' \
'(--queue --wait)--later[Put the message in the target'\''s inbox and return at once\: orch types it at the target'\''s next idle, batched with its pending notices]' \
'--wait-idle[If the target shows a permission or start-up dialog, wait for it to be answered instead of refusing]' \
'--force[Override the role matrix, and for non-operators the known-agent and \`!\`/\`/\`-into-Claude-Code guards (recorded in the audit log)]' \
'--pretty[Human-readable output instead of JSON]' \
'(--release-operator --audit --wait --escalate --queue)--claim-operator[Record this pane (or --from) as the operator of this tmux server]' \
'(--audit --wait --escalate --queue)--release-operator[Remove the operator claim]' \
'(--wait --escalate --queue --file)--audit[Print the audit log (JSON lines; --pretty for a table) and exit]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::target -- Who to tell\: %12, an agent name, operator, self or parent:_default' \
'*::text -- The prompt (joined by spaces), or `-` to read it from stdin:_default' \
&& ret=0
;;
(listen)
_arguments "${_arguments_options[@]}" : \
'*--kinds=[Comma-separated event kinds to report \[default\: stop,stop_failure,notify,session_end\]]:KIND,…:_default' \
'(--new)--since=[Replay\: report events with a sequence number above SEQ (per pane)]:SEQ:_default' \
'--timeout=[Give up after this many seconds (exit code 3)]:SECS:_default' \
'()--any[Listen to every pane on this tmux server (except your own and observers)]' \
'--stream[Keep printing events (JSON lines) until the timeout or a signal]' \
'(--any --stream)--all[Fan-in\: wait until every named target has had a turn end after its last prompt (or died); one event per target]' \
'--new[Only events that happen after listen starts, even for one target]' \
'--include-self[With --any, include the pane listen runs in]' \
'--include-observers[With --any, include panes whose role is observer]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::targets -- Panes to listen to\: pane ids (%12), agent names, or HOST\:NAME on another host:_default' \
&& ret=0
;;
(hook)
_arguments "${_arguments_options[@]}" : \
'--harness=[Which agent harness fired the hook (claude, codex, gemini, pi, echo…)]:HARNESS:_default' \
'--alert=[Internal\: deliver this alert to the person (run detached by orch)]:JSON:_default' \
'*--watch-codex-turn=[Internal\: watch a Codex rollout for the end of a turn whose model request failed (started by orch-hook itself, detached)]:TRANSCRIPT:_default:TRANSCRIPT:_default:TRANSCRIPT:_default' \
'--confirm-queued=[Internal\: confirm queued prompts from a Claude Code transcript that lags the turn end at this seq (started by orch-hook itself, detached)]:STOP_SEQ:_default' \
'--spawned[The hook was passed by orch-spawn on the agent'\''s command line; in such a pane only these record, so each event is recorded once (docs/protocol.md, "Hooks")]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::event -- The event\: orch'\''s name (stop) or the harness'\''s (Stop). When omitted, the payload'\''s `hook_event_name` is used:_default' \
'::payload -- The payload as an argument instead of stdin (codex'\''s notify passes it so):_default' \
&& ret=0
;;
(echo)
_arguments "${_arguments_options[@]}" : \
'--turn-ms=[How long an ordinary turn takes, in milliseconds]:MS:_default' \
'--swallow-enter=[Ignore the first N Enter keys (simulates a swallowed Enter)]:N:_default' \
'--paste-draw-ms=[Draw a bracketed paste only MS ms after it ends, and drop Enter keys that arrive before then (what Claude Code does right after start-up)]:MS:_default' \
'--session-id=[Use this session id (as \`claude --session-id\`)]:ID:_default' \
'(--session-id)--resume=[Resume a session (as \`claude --resume\`)\: fires session_start with source \`resume\`]:ID:_default' \
'--model=[Accepted for parity with real harnesses; shown in the banner]:MODEL:_default' \
'--append-system-prompt=[Accepted for parity with real harnesses (the fleet prompt); its size is shown]:TEXT:_default' \
'--dialog[Show a start-up trust dialog and wait for an answer before starting]' \
'--exit-immediately[Exit with an error at once (simulates an agent that fails to start)]' \
'--no-hooks[Fire no hooks (behaves like a harness orch can only watch on screen)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(up)
_arguments "${_arguments_options[@]}" : \
'--hook=[Register this orch-hook binary instead of the one next to orch-up (or on PATH)]:PATH:_files' \
'--dry-run[Print what would change (a unified diff of each settings file) and change nothing]' \
'-y[Don'\''t ask for confirmation on a terminal]' \
'--yes[Don'\''t ask for confirmation on a terminal]' \
'-q[Print nothing on success (errors still go to stderr)]' \
'--quiet[Print nothing on success (errors still go to stderr)]' \
'(--json)--pretty[Human-readable output (the default on a terminal)]' \
'--json[JSON output (the default when stdout is not a terminal)]' \
'--claude-only[Only Claude Code (hooks and skills)\: leave Codex, Gemini CLI and pi alone]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(down)
_arguments "${_arguments_options[@]}" : \
'--dry-run[Print what would change (a unified diff of each settings file) and change nothing]' \
'-y[Don'\''t ask for confirmation (required when there is no terminal)]' \
'--yes[Don'\''t ask for confirmation (required when there is no terminal)]' \
'--keep-state[Keep orch'\''s state directory (event logs, registry)]' \
'--remove-backups[Also delete orch'\''s backups of a settings file that is back to its original bytes (what \`install.sh --uninstall\` does)]' \
'-q[Print nothing on success (errors still go to stderr)]' \
'--quiet[Print nothing on success (errors still go to stderr)]' \
'(--json)--pretty[Human-readable output (the default on a terminal)]' \
'--json[JSON output (the default when stdout is not a terminal)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(doctor)
_arguments "${_arguments_options[@]}" : \
'--timeout=[Give the hook probe this many seconds]:SECS:_default' \
'--probe-run=[Internal\: run the probe plan in DIR (inside the private tmux pane)]:DIR:_files' \
'(--json)--pretty[Human-readable output (the default on a terminal)]' \
'--json[JSON output (the default when stdout is not a terminal)]' \
'--no-probe[Don'\''t run the hooks; only check what is installed]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(survey)
_arguments "${_arguments_options[@]}" : \
'--watch=[Redraw the table live\: on every event, and at least every SECS seconds \[default\: 2\]]::SECS:_default' \
'*--role=[Only agents with these roles (operator, worker, observer; comma-separated)]:ROLE,…:_default' \
'*--state=[Only agents in these states; a prefix before \`\:\` matches a family, so \`blocked\` matches every blocked\:* state (comma-separated)]:STATE,…:_default' \
'--since=[Only agents whose state changed within DURATION (e.g. 30s, 5m, 2h, 1d)]:DURATION:_default' \
'*--hosts=[Also survey these hosts over ssh (comma-separated ssh destinations or hosts.json names); without a list, every host in hosts.json. Each agent gains a \`host\` field (\`local\` for this one)]::HOST,…:_default' \
'--pretty[An aligned table for people instead of JSON]' \
'(--pretty)--status-line[One compact line for the tmux status bar, e.g. \`⚙3 ✓2 ⚠1\`]' \
'--all[Include agents whose panes are gone (kept for the GC grace period, \`ORCH_GC_GRACE_SECS\`, default 60 s) with their last known info]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::targets -- Only these agents\: pane ids (%12), names, or `self`:_default' \
&& ret=0
;;
(spawn)
_arguments "${_arguments_options[@]}" : \
'--host=[Start the agent on another host over ssh (same as \`orch --host DEST spawn …\`); with --headless, a tmux server is started there if it has none. --cwd is a path on that host]:DEST:_default' \
'(--project)--cwd=[Directory the agent works in \[default\: the current directory\]]:DIR:_files' \
'--project=[Work in \$ORCH_PROJECTS_DIR/NAME (default root\: ~/projects)]:NAME:_default' \
'--name=[A name for the agent, unique among live agents on this tmux server; usable wherever a pane id is (orch tell NAME, orch listen NAME)]:NAME:_default' \
'--role=[worker (default) or observer]:ROLE:(worker observer)' \
'(--window --headless)--position=[Split off your pane on this side \[default\: right\]]:POSITION:(right left above below)' \
'--model=[The model, passed to the harness (overrides the outfit'\''s)]:MODEL:_default' \
'--prompt=[A first task, delivered with orch-tell once the agent is ready]:TEXT:_default' \
'--outfit=[Apply an outfit\: \$ORCH_CONFIG_DIR/outfits/NAME.json, a built-in one (engineer, reviewer, researcher, spy), or a path to a .json file]:NAME:_default' \
'--worktree=[Give the agent its own git worktree on BRANCH \[default\: orch/<name>\]; put the harness first (\`orch-spawn claude --worktree\`)]::BRANCH:_default' \
'--timeout=[Seconds to wait for the agent to be ready \[default\: 90\]]:SECS:_default' \
'--resume=[Resume this harness session instead of starting a new one]:SESSION_ID:_default' \
'*--add-dir=[An extra directory the agent may use (repeatable)]:DIR:_files' \
'(--restart --show --hide)--stop=[Stop an agent\: its exit command (/exit), then kill the pane after --grace]:PANE|NAME:_default' \
'--grace=[Seconds --stop waits for a graceful exit before killing the pane \[default\: 10\]]:SECS:_default' \
'(--show --hide)--restart=[Start an exited agent again in a new pane, resuming its session, with the same name, role, parent, directory and outfit]:PANE|NAME:_default' \
'(--hide)--show=[Move an agent'\''s pane next to yours (--position picks the side)]:PANE|NAME:_default' \
'--hide=[Move an agent'\''s pane out of sight, into the orch-headless session]:PANE|NAME:_default' \
'--watch=[Start a spy on this agent (or on yourself)\: with --outfit spy, an observer briefed on it, subscribed to its turn ends, reporting only to the operator, never able to type into it]:PANE|NAME:_default' \
'--exec-launch=[Internal\: run the agent described by a launch file (used in the pane)]:FILE:_files' \
'(--headless)--window[Open the agent in a new window instead of a split]' \
'--headless[Start the agent out of sight, in the detached tmux session \`orch-headless\` (bring it back with --show)]' \
'--no-bypass[Keep the harness'\''s permission prompts (by default spawned agents run with them bypassed, e.g. claude --dangerously-skip-permissions)]' \
'--pretty[Human-readable output instead of JSON]' \
'(--stop --show --hide)--dry-run[Print the command line, environment and placement; start nothing (also with --restart\: nothing is killed or restarted)]' \
'(--stop --restart --show --hide)--relayout[Re-tile your window\: you keep a full-height column of half of it, agents stack beside you, those that do not fit (20x5 at least) move to overflow windows]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::harness -- The agent CLI\: claude, codex, gemini, pi, opencode, or echo (built in). May be omitted when the outfit names one:_default' \
'*::harness_args -- Arguments passed to the harness as they are:_default' \
&& ret=0
;;
(subscribe)
_arguments "${_arguments_options[@]}" : \
'*--kinds=[Event kinds to push\: stop (default), notify, stop_failure, session_end. Comma-separated or repeated]:KINDS:_default' \
'--for=[The subscriber\: act on behalf of this pane instead of the pane this runs in (TMUX_PANE)]:PANE:_default' \
'(--cancel --kinds)*--unsub=[Stop receiving notices about these peers]:PEER:_default' \
'*--flush=[Internal\: deliver the notices waiting for these panes (orch-hook starts this, detached)]:PANE:_default' \
'(--unsub --cancel --kinds)--list[List the subscriber'\''s subscriptions, its subscribers and pending notices (with --all\: every subscription on this tmux server)]' \
'(--for)--all[With --list\: every subscription on this tmux server]' \
'(--kinds)--cancel[Remove every subscription of the subscriber]' \
'--pretty[Human-readable output instead of JSON]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::peers -- Peers whose events this pane should hear about:_default' \
&& ret=0
;;
(restore)
_arguments "${_arguments_options[@]}" : \
'*--only=[Only the agents with these names]:NAME:_default' \
'--from=[Restore from this dead server (its key, \`<socket>-<pid>\`) instead of the newest]:KEY:_default' \
'--timeout=[Give each agent this long to get ready \[default\: 90 s\]]:SECS:_default' \
'--dry-run[Say what would be restored; start nothing]' \
'(--only --from --dry-run)--list[List the dead servers whose state is kept, newest first, and exit]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(answer)
_arguments "${_arguments_options[@]}" : \
'--pretty[Human-readable output]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':target -- The blocked agent\: %12 or its name:_default' \
':choice -- allow (this once), deny, or always (allow and do not ask again):_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash zsh fish elvish powershell)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
'::command:(spawn tell listen survey restore answer subscribe up down doctor hook echo)' \
&& ret=0
;;
        esac
    ;;
esac
}

(( $+functions[_orch_commands] )) ||
_orch_commands() {
    local commands; commands=(
'tell:Deliver a prompt to an agent, exactly once, and optionally wait for the reply' \
'listen:Wait for agents to finish a turn or need attention (no polling)' \
'hook:Record an agent hook event (called by agents'\'' hooks, not by people)' \
'echo:The built-in echo agent\: answers deterministically, fires orch'\''s hooks (no API key needed)' \
'up:Install orch'\''s hooks, skills and harness glue (idempotent; never clobbers other settings)' \
'down:Remove exactly what \`orch up\` installed (and orch'\''s state)' \
'doctor:Check that orch'\''s hooks really fire, and report what is broken' \
'survey:Show what every agent is doing\: state, age, last prompt/reply, tokens, blockers' \
'spawn:Start an agent in a new tmux pane and wait until it is ready' \
'subscribe:Have a pane receive notices when chosen peers finish (no background process)' \
'restore:Bring back the agents of a tmux server that died, each resuming its own session' \
'answer:Answer an agent'\''s permission prompt\: allow, deny or always' \
'completions:Print shell completions' \
'help:Print a subcommand'\''s help' \
    )
    _describe -t commands 'orch commands' commands "$@"
}
(( $+functions[_orch__subcmd__answer_commands] )) ||
_orch__subcmd__answer_commands() {
    local commands; commands=()
    _describe -t commands 'orch answer commands' commands "$@"
}
(( $+functions[_orch__subcmd__completions_commands] )) ||
_orch__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'orch completions commands' commands "$@"
}
(( $+functions[_orch__subcmd__doctor_commands] )) ||
_orch__subcmd__doctor_commands() {
    local commands; commands=()
    _describe -t commands 'orch doctor commands' commands "$@"
}
(( $+functions[_orch__subcmd__down_commands] )) ||
_orch__subcmd__down_commands() {
    local commands; commands=()
    _describe -t commands 'orch down commands' commands "$@"
}
(( $+functions[_orch__subcmd__echo_commands] )) ||
_orch__subcmd__echo_commands() {
    local commands; commands=()
    _describe -t commands 'orch echo commands' commands "$@"
}
(( $+functions[_orch__subcmd__help_commands] )) ||
_orch__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'orch help commands' commands "$@"
}
(( $+functions[_orch__subcmd__hook_commands] )) ||
_orch__subcmd__hook_commands() {
    local commands; commands=()
    _describe -t commands 'orch hook commands' commands "$@"
}
(( $+functions[_orch__subcmd__listen_commands] )) ||
_orch__subcmd__listen_commands() {
    local commands; commands=()
    _describe -t commands 'orch listen commands' commands "$@"
}
(( $+functions[_orch__subcmd__restore_commands] )) ||
_orch__subcmd__restore_commands() {
    local commands; commands=()
    _describe -t commands 'orch restore commands' commands "$@"
}
(( $+functions[_orch__subcmd__spawn_commands] )) ||
_orch__subcmd__spawn_commands() {
    local commands; commands=()
    _describe -t commands 'orch spawn commands' commands "$@"
}
(( $+functions[_orch__subcmd__subscribe_commands] )) ||
_orch__subcmd__subscribe_commands() {
    local commands; commands=()
    _describe -t commands 'orch subscribe commands' commands "$@"
}
(( $+functions[_orch__subcmd__survey_commands] )) ||
_orch__subcmd__survey_commands() {
    local commands; commands=()
    _describe -t commands 'orch survey commands' commands "$@"
}
(( $+functions[_orch__subcmd__tell_commands] )) ||
_orch__subcmd__tell_commands() {
    local commands; commands=()
    _describe -t commands 'orch tell commands' commands "$@"
}
(( $+functions[_orch__subcmd__up_commands] )) ||
_orch__subcmd__up_commands() {
    local commands; commands=()
    _describe -t commands 'orch up commands' commands "$@"
}

if [ "$funcstack[1]" = "_orch" ]; then
    _orch "$@"
else
    compdef _orch orch
fi
