//! Lines a running child prints, read on a thread so a test can wait for
//! them with a timeout (`orch-listen --stream`, `orch-survey --watch`).

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Lines {
    rx: Receiver<String>,
}

impl Lines {
    /// Take `child`'s stdout (it must be piped) and read it line by line.
    pub fn of(child: &mut Child) -> Lines {
        let out = child
            .stdout
            .take()
            .expect("the child's stdout is not piped");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx }
    }

    /// The next line, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<String, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// JSON lines until `n` arrived or `timeout` passed, plus any that
    /// follow within 200 ms (beyond `n` they are duplicates: a test wants
    /// to see them).
    pub fn json(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let parse = |l: String| -> Value {
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        };
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        while lines.len() < n {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) => lines.push(parse(l)),
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(l) = self.rx.try_recv() {
            lines.push(parse(l));
        }
        lines
    }
}
