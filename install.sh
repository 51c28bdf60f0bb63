#!/bin/sh
# Install orch: build the binaries, install them and the shell completions
# under a prefix, then run `orch up` (hooks and skills for Claude Code).
# Safe to run again: it rebuilds what changed and `orch up` changes nothing
# the second time.
#
#   ./install.sh                  # binaries into ~/.local/bin, then `orch up --yes`
#   ./install.sh --demo           # ... then run the demo (echo agents, no API key)
#   ./install.sh --prefix /opt/orch --no-up
#   ./install.sh --uninstall      # remove everything install.sh and `orch up` made
#
# Environment:
#   PREFIX               install root (default ~/.local; --prefix wins)
#   CARGO_TARGET_DIR     where cargo builds (default: target/ in this checkout,
#                        so a second run only rebuilds what changed)
#   ORCH_INSTALL_FROM    a directory holding already-built orch binaries
#                        (e.g. target/debug): copy those instead of building.
#                        The tests use it so they do not rebuild orch.
set -eu

usage() {
    cat <<'EOF'
usage: ./install.sh [--prefix DIR] [--no-up] [--demo]
       ./install.sh [--prefix DIR] --uninstall

  --prefix DIR  install into DIR/bin and DIR/share (default: $PREFIX, else ~/.local)
  --no-up       do not run `orch up` (no changes to ~/.claude)
  --demo        afterwards, run share/demo.sh: spawn -> tell -> listen -> survey
                with the built-in echo agent in a private tmux server
  --uninstall   remove exactly what install.sh and `orch up` made: `orch down --yes`
                (hooks, skills, glue, state), the binaries (and cargo's records
                of them), the completions, DIR/share/orch, and the directories
                install.sh created if they are empty
  -h, --help    this text
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-}
run_up=1
demo=0
uninstall=0
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --no-up) run_up=0; shift ;;
    --demo) demo=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'install.sh: unknown option %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ -z "$prefix" ]; then
    [ -n "${HOME:-}" ] || die "HOME is not set: give --prefix DIR"
    prefix=$HOME/.local
fi
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
bindir=$prefix/bin

binaries="orch orch-hook orch-listen orch-spawn orch-tell orch-answer orch-survey orch-up orch-down orch-doctor orch-echo"
# orch-subscribe joins the list when this checkout has it.
[ -f "$here/crates/orch-cli/src/bin/orch-subscribe.rs" ] && binaries="$binaries orch-subscribe"

data=$prefix/share/orch
comp_bash=$prefix/share/bash-completion/completions/orch
comp_zsh=$prefix/share/zsh/site-functions/_orch
comp_fish=$prefix/share/fish/vendor_completions.d/orch.fish
# What install.sh created, for --uninstall: `dir PATH` for each directory
# that did not exist before, `file PATH` for cargo's records it started.
record=$data/installed.txt
created=""

# mkdir -p that remembers every directory it had to create.
mkd() {
    d=$1
    set --
    while [ ! -d "$d" ]; do
        set -- "$d" "$@"
        d=$(dirname "$d")
    done
    for x in "$@"; do
        mkdir "$x" && created="$created
dir $x"
    done
}

if [ "$uninstall" = 1 ]; then
    if [ -x "$bindir/orch" ]; then
        say "running: orch down --yes --remove-backups (orch's hooks, skills, glue, state and backups)"
        "$bindir/orch" down --yes --remove-backups --pretty || die "orch down failed (see above); nothing else was removed"
    else
        say "no $bindir/orch: skipping orch down (run it first if orch's hooks are still installed)"
    fi
    # cargo's records of the binaries. If they were deleted by hand, put
    # placeholders back so `cargo uninstall` can clear its records.
    if [ -f "$prefix/.crates.toml" ] && grep -q '^"orch-cli ' "$prefix/.crates.toml" && command -v cargo >/dev/null 2>&1; then
        for b in $binaries; do [ -e "$bindir/$b" ] || : >"$bindir/$b"; done
        cargo uninstall --root "$prefix" orch-cli >/dev/null 2>&1 || say "cargo uninstall failed; removing the binaries by hand"
    fi
    for b in $binaries; do rm -f "$bindir/$b"; done
    rm -f "$comp_bash" "$comp_zsh" "$comp_fish"
    # cargo's record files, when install.sh's cargo made them and they now
    # hold no other package.
    if [ -f "$record" ]; then
        for f in $(sed -n 's/^file //p' "$record"); do
            case $f in
            *.crates.toml) grep -q '^"' "$f" 2>/dev/null || rm -f "$f" ;;
            *.crates2.json) grep -q '"installs":{}' "$f" 2>/dev/null && rm -f "$f" ;;
            esac
        done
        dirs=$(sed -n 's/^dir //p' "$record" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
    else
        dirs=""
    fi
    rm -rf "$data"
    # Deepest first; only what install.sh created, and only if empty.
    for d in $dirs; do rmdir "$d" 2>/dev/null || true; done
    say "uninstalled orch from $prefix"
    exit 0
fi

# Check every tool before changing anything.
if ! command -v tmux >/dev/null 2>&1; then
    die "tmux is not installed; orch runs agents in tmux panes. Install it (Debian/Ubuntu: sudo apt-get install tmux; macOS: brew install tmux) and run ./install.sh again."
fi
if [ -z "${ORCH_INSTALL_FROM:-}" ] && ! command -v cargo >/dev/null 2>&1; then
    die "cargo is not installed; orch is built from source with Rust >= 1.89. Install it from https://rustup.rs (curl --proto '=https' -sSf https://sh.rustup.rs | sh), open a new shell and run ./install.sh again."
fi

mkd "$bindir"
for f in "$prefix/.crates.toml" "$prefix/.crates2.json"; do
    [ -e "$f" ] || created="$created
file $f"
done
if [ -n "${ORCH_INSTALL_FROM:-}" ]; then
    for b in $binaries; do
        [ -x "$ORCH_INSTALL_FROM/$b" ] || die "ORCH_INSTALL_FROM=$ORCH_INSTALL_FROM has no $b: build it first (cargo build)"
    done
    say "copying prebuilt binaries from $ORCH_INSTALL_FROM"
    for b in $binaries; do
        # Copy then rename, so a running orch binary is never overwritten in place.
        cp "$ORCH_INSTALL_FROM/$b" "$bindir/.$b.tmp"
        chmod 0755 "$bindir/.$b.tmp"
        mv -f "$bindir/.$b.tmp" "$bindir/$b"
    done
else
    say "building and installing with cargo (the first build takes a few minutes)"
    # $bindir on cargo's PATH: its "be sure to add … to your PATH" warning
    # would repeat (mid-build) what the end of this script says once.
    PATH="$bindir:$PATH" cargo install --locked --path "$here/crates/orch-cli" --root "$prefix" \
        --target-dir "${CARGO_TARGET_DIR:-$here/target}" --force ||
        die "cargo install failed (see above); nothing else was changed"
fi

# Completions, generated by the binary just installed so they match it.
mkd "$(dirname "$comp_bash")"
mkd "$(dirname "$comp_zsh")"
mkd "$(dirname "$comp_fish")"
"$bindir/orch" completions bash >"$comp_bash"
"$bindir/orch" completions zsh >"$comp_zsh"
"$bindir/orch" completions fish >"$comp_fish"

# Data files: the tmux status-line snippet, example outfits, the fleet
# prompt (for reference: it is built into orch-spawn) and the demo.
mkd "$data/tmux"
mkd "$data/outfits"
cp "$here/share/tmux/orch-status.conf" "$data/tmux/"
cp "$here"/share/outfits/*.json "$data/outfits/"
cp "$here/share/fleet-prompt.md" "$here/share/demo.sh" "$data/"
# Keep what earlier runs recorded: a directory they created still counts.
{
    [ -f "$record" ] && cat "$record"
    printf '%s\n' "$created" | sed '/^$/d'
} | sort -u >"$record.tmp"
mv -f "$record.tmp" "$record"

say "installed into $bindir:"
for b in $binaries; do printf '  %s\n' "$bindir/$b"; done
say "completions: $comp_bash, $comp_zsh, $comp_fish"
say "data: $data (tmux status line: source-file $data/tmux/orch-status.conf)"

if [ "$run_up" = 1 ]; then
    say "running: orch up --yes (hooks and skills for Claude Code; undo with: orch down)"
    "$bindir/orch" up --yes --pretty || die "orch up failed (see above); the binaries are installed; fix the problem and run: $bindir/orch up"
else
    say "skipped orch up (--no-up); run it yourself: $bindir/orch up"
fi

if [ "$demo" = 1 ]; then
    say "running the demo (share/demo.sh)"
    PATH="$bindir:$PATH" sh "$here/share/demo.sh"
fi

on_path=0
case ":${PATH:-}:" in *":$bindir:"*) on_path=1 ;; esac
# New tmux panes start login shells, and /etc/profile often resets PATH:
# what such a shell gets, not just this one.
login_path=$(env -i HOME="$HOME" USER="${USER:-}" LOGNAME="${LOGNAME:-}" TERM="${TERM:-dumb}" \
    "${SHELL:-/bin/sh}" -l -c 'printf "\n%s" "$PATH"' </dev/null 2>/dev/null | tail -n 1) || login_path=
login_ok=0
case ":$login_path:" in *":$bindir:"*) login_ok=1 ;; esac

printf '\nNext:\n'
if [ "$on_path" = 0 ] || { [ -n "$login_path" ] && [ "$login_ok" = 0 ]; }; then
    if [ "$on_path" = 0 ]; then
        printf '  %s is not on your PATH. ' "$bindir"
    else
        printf '  %s is on this shell'\''s PATH but not on a login shell'\''s, which is what\n' "$bindir"
        printf '  a new tmux pane starts: there `orch` would be "not found". '
    fi
    printf 'Add it (and open a new shell):\n'
    printf '      echo '\''export PATH="%s:$PATH"'\'' >> ~/.profile\n' "$bindir"
fi
cat <<EOF
  orch doctor --pretty             # proves the hooks fire
  sh $data/demo.sh
                                   # the demo again: spawn, tell, listen, survey with echo agents
  tmux new -s work                 # then run claude in it and ask it to
                                   # "spawn an echo agent called alice and tell it hello"
  orch --help, orch <command> --help, and README.md have the rest; orch down undoes orch up,
  ./install.sh --uninstall removes everything this script and orch up made.
EOF
