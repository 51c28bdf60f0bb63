# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_orch_global_optspecs
    string join \n h/help
end

function __fish_orch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_orch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_orch_using_subcommand
    set -l cmd (__fish_orch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c orch -n "__fish_orch_needs_command" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_needs_command" -f -a "tell" -d 'Deliver a prompt to an agent, exactly once, and optionally wait for the reply'
complete -c orch -n "__fish_orch_needs_command" -f -a "listen" -d 'Wait for agents to finish a turn or need attention (no polling)'
complete -c orch -n "__fish_orch_needs_command" -f -a "hook" -d 'Record an agent hook event (called by agents\' hooks, not by people)'
complete -c orch -n "__fish_orch_needs_command" -f -a "echo" -d 'The built-in echo agent: answers deterministically, fires orch\'s hooks (no API key needed)'
complete -c orch -n "__fish_orch_needs_command" -f -a "up" -d 'Install orch\'s hooks, skills and harness glue (idempotent; never clobbers other settings)'
complete -c orch -n "__fish_orch_needs_command" -f -a "down" -d 'Remove exactly what `orch up` installed (and orch\'s state)'
complete -c orch -n "__fish_orch_needs_command" -f -a "doctor" -d 'Check that orch\'s hooks really fire, and report what is broken'
complete -c orch -n "__fish_orch_needs_command" -f -a "survey" -d 'Show what every agent is doing: state, age, last prompt/reply, tokens, blockers'
complete -c orch -n "__fish_orch_needs_command" -f -a "spawn" -d 'Start an agent in a new tmux pane and wait until it is ready'
complete -c orch -n "__fish_orch_needs_command" -f -a "subscribe" -d 'Have a pane receive notices when chosen peers finish (no background process)'
complete -c orch -n "__fish_orch_needs_command" -f -a "restore" -d 'Bring back the agents of a tmux server that died, each resuming its own session'
complete -c orch -n "__fish_orch_needs_command" -f -a "answer" -d 'Answer an agent\'s permission prompt: allow, deny or always'
complete -c orch -n "__fish_orch_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c orch -n "__fish_orch_needs_command" -f -a "help" -d 'Print a subcommand\'s help'
complete -c orch -n "__fish_orch_using_subcommand tell" -l to -d 'Fan out: tell each of these (comma-separated) in parallel; then every positional word is text. One JSON line per target' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l role -d 'With --all: only agents with this role (worker, observer, operator…)' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l file -d 'Read the prompt from this file (`-`: stdin)' -r -F
complete -c orch -n "__fish_orch_using_subcommand tell" -l timeout -d 'Give up after this many seconds in total (waiting for the target to be idle, for the receipt, and with --wait for the reply)' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l escalate -d 'Mark a question to the operator with its axis: taste, architecture, ethics or reversibility' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l from -d 'Send as this pane (default: the pane tell runs in, TMUX_PANE). Only the operator may send as another pane' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l pane -d 'With --audit: only sends from or to this pane (id or name)' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l since -d 'With --audit: only records newer than this (90s, 10m, 2h, 3d)' -r
complete -c orch -n "__fish_orch_using_subcommand tell" -l all -d 'Fan out to every live agent you may tell (not yourself, not the operator); every positional word is text. One JSON line per target'
complete -c orch -n "__fish_orch_using_subcommand tell" -l wait -d 'After delivery, wait for that turn to end and include its reply'
complete -c orch -n "__fish_orch_using_subcommand tell" -l queue -d 'If the target is mid-turn, type now (the harness queues it) instead of waiting for the turn to end'
complete -c orch -n "__fish_orch_using_subcommand tell" -l later -d 'Put the message in the target\'s inbox and return at once: orch types it at the target\'s next idle, batched with its pending notices'
complete -c orch -n "__fish_orch_using_subcommand tell" -l wait-idle -d 'If the target shows a permission or start-up dialog, wait for it to be answered instead of refusing'
complete -c orch -n "__fish_orch_using_subcommand tell" -l force -d 'Override the role matrix, and for non-operators the known-agent and `!`/`/`-into-Claude-Code guards (recorded in the audit log)'
complete -c orch -n "__fish_orch_using_subcommand tell" -l pretty -d 'Human-readable output instead of JSON'
complete -c orch -n "__fish_orch_using_subcommand tell" -l claim-operator -d 'Record this pane (or --from) as the operator of this tmux server'
complete -c orch -n "__fish_orch_using_subcommand tell" -l release-operator -d 'Remove the operator claim'
complete -c orch -n "__fish_orch_using_subcommand tell" -l audit -d 'Print the audit log (JSON lines; --pretty for a table) and exit'
complete -c orch -n "__fish_orch_using_subcommand tell" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand tell" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand listen" -l kinds -d 'Comma-separated event kinds to report [default: stop,stop_failure,notify,session_end]' -r
complete -c orch -n "__fish_orch_using_subcommand listen" -l since -d 'Replay: report events with a sequence number above SEQ (per pane)' -r
complete -c orch -n "__fish_orch_using_subcommand listen" -l timeout -d 'Give up after this many seconds (exit code 3)' -r
complete -c orch -n "__fish_orch_using_subcommand listen" -l any -d 'Listen to every pane on this tmux server (except your own and observers)'
complete -c orch -n "__fish_orch_using_subcommand listen" -l stream -d 'Keep printing events (JSON lines) until the timeout or a signal'
complete -c orch -n "__fish_orch_using_subcommand listen" -l all -d 'Fan-in: wait until every named target has had a turn end after its last prompt (or died); one event per target'
complete -c orch -n "__fish_orch_using_subcommand listen" -l new -d 'Only events that happen after listen starts, even for one target'
complete -c orch -n "__fish_orch_using_subcommand listen" -l include-self -d 'With --any, include the pane listen runs in'
complete -c orch -n "__fish_orch_using_subcommand listen" -l include-observers -d 'With --any, include panes whose role is observer'
complete -c orch -n "__fish_orch_using_subcommand listen" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand listen" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand hook" -l harness -d 'Which agent harness fired the hook (claude, codex, gemini, pi, echo…)' -r
complete -c orch -n "__fish_orch_using_subcommand hook" -l alert -d 'Internal: deliver this alert to the person (run detached by orch)' -r
complete -c orch -n "__fish_orch_using_subcommand hook" -l watch-codex-turn -d 'Internal: watch a Codex rollout for the end of a turn whose model request failed (started by orch-hook itself, detached)' -r
complete -c orch -n "__fish_orch_using_subcommand hook" -l confirm-queued -d 'Internal: confirm queued prompts from a Claude Code transcript that lags the turn end at this seq (started by orch-hook itself, detached)' -r
complete -c orch -n "__fish_orch_using_subcommand hook" -l spawned -d 'The hook was passed by orch-spawn on the agent\'s command line; in such a pane only these record, so each event is recorded once (docs/protocol.md, "Hooks")'
complete -c orch -n "__fish_orch_using_subcommand hook" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand hook" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand echo" -l turn-ms -d 'How long an ordinary turn takes, in milliseconds' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l swallow-enter -d 'Ignore the first N Enter keys (simulates a swallowed Enter)' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l paste-draw-ms -d 'Draw a bracketed paste only MS ms after it ends, and drop Enter keys that arrive before then (what Claude Code does right after start-up)' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l session-id -d 'Use this session id (as `claude --session-id`)' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l resume -d 'Resume a session (as `claude --resume`): fires session_start with source `resume`' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l model -d 'Accepted for parity with real harnesses; shown in the banner' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l append-system-prompt -d 'Accepted for parity with real harnesses (the fleet prompt); its size is shown' -r
complete -c orch -n "__fish_orch_using_subcommand echo" -l dialog -d 'Show a start-up trust dialog and wait for an answer before starting'
complete -c orch -n "__fish_orch_using_subcommand echo" -l exit-immediately -d 'Exit with an error at once (simulates an agent that fails to start)'
complete -c orch -n "__fish_orch_using_subcommand echo" -l no-hooks -d 'Fire no hooks (behaves like a harness orch can only watch on screen)'
complete -c orch -n "__fish_orch_using_subcommand echo" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand echo" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand up" -l hook -d 'Register this orch-hook binary instead of the one next to orch-up (or on PATH)' -r -F
complete -c orch -n "__fish_orch_using_subcommand up" -l dry-run -d 'Print what would change (a unified diff of each settings file) and change nothing'
complete -c orch -n "__fish_orch_using_subcommand up" -s y -l yes -d 'Don\'t ask for confirmation on a terminal'
complete -c orch -n "__fish_orch_using_subcommand up" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c orch -n "__fish_orch_using_subcommand up" -l pretty -d 'Human-readable output (the default on a terminal)'
complete -c orch -n "__fish_orch_using_subcommand up" -l json -d 'JSON output (the default when stdout is not a terminal)'
complete -c orch -n "__fish_orch_using_subcommand up" -l claude-only -d 'Only Claude Code (hooks and skills): leave Codex, Gemini CLI and pi alone'
complete -c orch -n "__fish_orch_using_subcommand up" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand up" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand down" -l dry-run -d 'Print what would change (a unified diff of each settings file) and change nothing'
complete -c orch -n "__fish_orch_using_subcommand down" -s y -l yes -d 'Don\'t ask for confirmation (required when there is no terminal)'
complete -c orch -n "__fish_orch_using_subcommand down" -l keep-state -d 'Keep orch\'s state directory (event logs, registry)'
complete -c orch -n "__fish_orch_using_subcommand down" -l remove-backups -d 'Also delete orch\'s backups of a settings file that is back to its original bytes (what `install.sh --uninstall` does)'
complete -c orch -n "__fish_orch_using_subcommand down" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c orch -n "__fish_orch_using_subcommand down" -l pretty -d 'Human-readable output (the default on a terminal)'
complete -c orch -n "__fish_orch_using_subcommand down" -l json -d 'JSON output (the default when stdout is not a terminal)'
complete -c orch -n "__fish_orch_using_subcommand down" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand down" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand doctor" -l timeout -d 'Give the hook probe this many seconds' -r
complete -c orch -n "__fish_orch_using_subcommand doctor" -l probe-run -d 'Internal: run the probe plan in DIR (inside the private tmux pane)' -r -F
complete -c orch -n "__fish_orch_using_subcommand doctor" -l pretty -d 'Human-readable output (the default on a terminal)'
complete -c orch -n "__fish_orch_using_subcommand doctor" -l json -d 'JSON output (the default when stdout is not a terminal)'
complete -c orch -n "__fish_orch_using_subcommand doctor" -l no-probe -d 'Don\'t run the hooks; only check what is installed'
complete -c orch -n "__fish_orch_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand survey" -l watch -d 'Redraw the table live: on every event, and at least every SECS seconds [default: 2]' -r
complete -c orch -n "__fish_orch_using_subcommand survey" -l role -d 'Only agents with these roles (operator, worker, observer; comma-separated)' -r
complete -c orch -n "__fish_orch_using_subcommand survey" -l state -d 'Only agents in these states; a prefix before `:` matches a family, so `blocked` matches every blocked:* state (comma-separated)' -r
complete -c orch -n "__fish_orch_using_subcommand survey" -l since -d 'Only agents whose state changed within DURATION (e.g. 30s, 5m, 2h, 1d)' -r
complete -c orch -n "__fish_orch_using_subcommand survey" -l hosts -d 'Also survey these hosts over ssh (comma-separated ssh destinations or hosts.json names); without a list, every host in hosts.json. Each agent gains a `host` field (`local` for this one)' -r
complete -c orch -n "__fish_orch_using_subcommand survey" -l pretty -d 'An aligned table for people instead of JSON'
complete -c orch -n "__fish_orch_using_subcommand survey" -l status-line -d 'One compact line for the tmux status bar, e.g. `⚙3 ✓2 ⚠1`'
complete -c orch -n "__fish_orch_using_subcommand survey" -l all -d 'Include agents whose panes are gone (kept for the GC grace period, `ORCH_GC_GRACE_SECS`, default 60 s) with their last known info'
complete -c orch -n "__fish_orch_using_subcommand survey" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand survey" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l host -d 'Start the agent on another host over ssh (same as `orch --host DEST spawn …`); with --headless, a tmux server is started there if it has none. --cwd is a path on that host' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l cwd -d 'Directory the agent works in [default: the current directory]' -r -F
complete -c orch -n "__fish_orch_using_subcommand spawn" -l project -d 'Work in $ORCH_PROJECTS_DIR/NAME (default root: ~/projects)' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l name -d 'A name for the agent, unique among live agents on this tmux server; usable wherever a pane id is (orch tell NAME, orch listen NAME)' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l role -d 'worker (default) or observer' -r -f -a "worker\t''
observer\t''"
complete -c orch -n "__fish_orch_using_subcommand spawn" -l position -d 'Split off your pane on this side [default: right]' -r -f -a "right\t''
left\t''
above\t''
below\t''"
complete -c orch -n "__fish_orch_using_subcommand spawn" -l model -d 'The model, passed to the harness (overrides the outfit\'s)' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l prompt -d 'A first task, delivered with orch-tell once the agent is ready' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l outfit -d 'Apply an outfit: $ORCH_CONFIG_DIR/outfits/NAME.json, a built-in one (engineer, reviewer, researcher, spy), or a path to a .json file' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l worktree -d 'Give the agent its own git worktree on BRANCH [default: orch/<name>]; put the harness first (`orch-spawn claude --worktree`)' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l timeout -d 'Seconds to wait for the agent to be ready [default: 90]' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l resume -d 'Resume this harness session instead of starting a new one' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l add-dir -d 'An extra directory the agent may use (repeatable)' -r -F
complete -c orch -n "__fish_orch_using_subcommand spawn" -l stop -d 'Stop an agent: its exit command (/exit), then kill the pane after --grace' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l grace -d 'Seconds --stop waits for a graceful exit before killing the pane [default: 10]' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l restart -d 'Start an exited agent again in a new pane, resuming its session, with the same name, role, parent, directory and outfit' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l show -d 'Move an agent\'s pane next to yours (--position picks the side)' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l hide -d 'Move an agent\'s pane out of sight, into the orch-headless session' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l watch -d 'Start a spy on this agent (or on yourself): with --outfit spy, an observer briefed on it, subscribed to its turn ends, reporting only to the operator, never able to type into it' -r
complete -c orch -n "__fish_orch_using_subcommand spawn" -l exec-launch -d 'Internal: run the agent described by a launch file (used in the pane)' -r -F
complete -c orch -n "__fish_orch_using_subcommand spawn" -l window -d 'Open the agent in a new window instead of a split'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l headless -d 'Start the agent out of sight, in the detached tmux session `orch-headless` (bring it back with --show)'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l no-bypass -d 'Keep the harness\'s permission prompts (by default spawned agents run with them bypassed, e.g. claude --dangerously-skip-permissions)'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l pretty -d 'Human-readable output instead of JSON'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l dry-run -d 'Print the command line, environment and placement; start nothing (also with --restart: nothing is killed or restarted)'
complete -c orch -n "__fish_orch_using_subcommand spawn" -l relayout -d 'Re-tile your window: you keep a full-height column of half of it, agents stack beside you, those that do not fit (20x5 at least) move to overflow windows'
complete -c orch -n "__fish_orch_using_subcommand spawn" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand spawn" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l kinds -d 'Event kinds to push: stop (default), notify, stop_failure, session_end. Comma-separated or repeated' -r
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l for -d 'The subscriber: act on behalf of this pane instead of the pane this runs in (TMUX_PANE)' -r
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l unsub -d 'Stop receiving notices about these peers' -r
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l flush -d 'Internal: deliver the notices waiting for these panes (orch-hook starts this, detached)' -r
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l list -d 'List the subscriber\'s subscriptions, its subscribers and pending notices (with --all: every subscription on this tmux server)'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l all -d 'With --list: every subscription on this tmux server'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l cancel -d 'Remove every subscription of the subscriber'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -l pretty -d 'Human-readable output instead of JSON'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand subscribe" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand restore" -l only -d 'Only the agents with these names' -r
complete -c orch -n "__fish_orch_using_subcommand restore" -l from -d 'Restore from this dead server (its key, `<socket>-<pid>`) instead of the newest' -r
complete -c orch -n "__fish_orch_using_subcommand restore" -l timeout -d 'Give each agent this long to get ready [default: 90 s]' -r
complete -c orch -n "__fish_orch_using_subcommand restore" -l dry-run -d 'Say what would be restored; start nothing'
complete -c orch -n "__fish_orch_using_subcommand restore" -l list -d 'List the dead servers whose state is kept, newest first, and exit'
complete -c orch -n "__fish_orch_using_subcommand restore" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand restore" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand answer" -l pretty -d 'Human-readable output'
complete -c orch -n "__fish_orch_using_subcommand answer" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand answer" -s V -l version -d 'Print version'
complete -c orch -n "__fish_orch_using_subcommand completions" -s h -l help -d 'Print help'
complete -c orch -n "__fish_orch_using_subcommand help" -s h -l help -d 'Print help'
