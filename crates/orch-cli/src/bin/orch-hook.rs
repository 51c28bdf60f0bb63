//! Runs inside the user's agent on every turn: always exits 0 and never
//! writes to stdout (see `orch::hook`).

fn main() {
    orch_cli::hook::main()
}
