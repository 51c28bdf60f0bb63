//! Run one of the kit's model-API mocks by hand, to point a real agent CLI
//! at it while exploring: `cargo run -p orch-testkit --example mock --
//! anthropic|responses|chat|gemini`. Prints its URL, then one line per
//! request it answers (the script decides replies: `say hi`, `use bash:
//! CMD`, `slow`, `fail429`, else the echo reply). Ctrl-C stops it.

use std::time::Duration;

use orch_testkit::mock::{AnthropicMock, ChatMock, GeminiMock, Mock, Protocol, ResponsesMock};

fn serve<P: Protocol>(mock: Mock<P>) -> ! {
    println!("{}", mock.url());
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let log = mock.requests();
        for r in &log[seen..] {
            let said = r.tool_result().map(|t| format!("tool result {t:?}"));
            let said = said.or_else(|| r.last_user_text().map(|t| format!("{t:?}")));
            let kind = r.kind;
            println!(
                "{} {} {kind:?} {}",
                r.method,
                r.target,
                said.unwrap_or_default()
            );
        }
        seen = log.len();
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("anthropic") => serve(AnthropicMock::start()),
        Some("responses") => serve(ResponsesMock::start()),
        Some("chat") => serve(ChatMock::start()),
        Some("gemini") => serve(GeminiMock::start()),
        _ => {
            eprintln!("usage: mock anthropic|responses|chat|gemini");
            std::process::exit(2);
        }
    }
}
