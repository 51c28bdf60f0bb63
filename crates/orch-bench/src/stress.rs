//! `orch-bench stress`: the data-safety figures of docs/reliability.md
//! (issue 14). Three attacks on the files, each counted:
//!
//! 1. **Kill storm**: writers run `orch-hook stop` in a loop on a few
//!    panes (logs rotating), a quarter of them SIGKILLed at a random moment;
//!    a listener follows the panes meanwhile; links planted in the state
//!    dir point at files outside it.
//! 2. **Full disk**: the state dir on a small tmpfs; hooks run while it is
//!    full (torn records), then after space is freed.
//! 3. **Settings race**: a simulated Claude Code rewrites `settings.json`
//!    (atomically, then in place as Node's `writeFileSync` does) while
//!    `orch up` and `orch down` run.
//!
//! Printed: records lost, seqs duplicated, settings keys lost, files
//! written outside the state dir, and the concurrent writer's lost writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use orch::pane::PaneId;
use orch::store::{LogCursor, Store};
use orch_testkit::{TestEnv, bin};
use serde_json::{Value, json};

use crate::world;

#[derive(Debug, Default)]
struct Totals {
    records_lost: u64,
    seqs_duplicated: u64,
    settings_keys_lost: u64,
    outside_writes: u64,
    writer_writes: u64,
    writer_lost: u64,
    completed: u64,
    killed: u64,
    orch_failures: u64,
}

struct Opts {
    writers: usize,
    events: usize,
    rounds: usize,
    cycles: usize,
}

fn opts(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        writers: 20,
        events: 100,
        rounds: 2,
        cycles: 20,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = || -> Result<usize> {
            it.next()
                .with_context(|| format!("{a} needs a number"))?
                .parse()
                .with_context(|| format!("{a} needs a number"))
        };
        match a.as_str() {
            "--writers" => o.writers = num()?,
            "--events" => o.events = num()?,
            "--rounds" => o.rounds = num()?,
            "--cycles" => o.cycles = num()?,
            other => anyhow::bail!(
                "unknown option {other:?} (--writers N, --events N, --rounds N, --cycles N)"
            ),
        }
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result<()> {
    let o = opts(args)?;
    orch_testkit::bins::require(&["orch-hook", "orch"]).map_err(anyhow::Error::msg)?;
    let mut t = Totals::default();
    for round in 0..o.rounds {
        kill_storm(&o, round, &mut t)?;
    }
    full_disk(&mut t)?;
    for in_place in [false, true] {
        settings_race(&o, in_place, &mut t)?;
    }
    println!("--");
    println!("records lost: {}", t.records_lost);
    println!("seqs duplicated: {}", t.seqs_duplicated);
    println!("settings keys lost: {}", t.settings_keys_lost);
    println!("files written outside the state dir: {}", t.outside_writes);
    println!(
        "concurrent writer lost writes: {} of {} ({:.2} per 100)",
        t.writer_lost,
        t.writer_writes,
        100.0 * t.writer_lost as f64 / t.writer_writes.max(1) as f64
    );
    println!(
        "(hook runs completed {}, SIGKILLed {}; orch up/down failures {})",
        t.completed, t.killed, t.orch_failures
    );
    Ok(())
}

/// A cheap random number (no dependency): std's randomly seeded hasher.
fn rand_below(n: u64) -> u64 {
    orch::paths::random_u64() % n.max(1)
}

/// Every complete, parseable record of `pane` in file order (rotated
/// generation first): what a careful reader could see.
fn raw_records(store: &Store, pane: PaneId) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [store.layout().rotated_log(pane), store.layout().log(pane)] {
        let data = fs::read(&p).unwrap_or_default();
        let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in data[..end].split(|&b| b == b'\n') {
            if let Ok(v) = serde_json::from_slice::<Value>(line)
                && v.get("seq").is_some()
            {
                out.push(v);
            }
        }
    }
    out
}

/// Seqs that appear on more than one record, or go backwards.
fn duplicated_seqs(records: &[Value]) -> u64 {
    let mut seen = HashSet::new();
    let mut last = 0;
    let mut bad = 0;
    for r in records {
        let s = r["seq"].as_u64().unwrap_or(0);
        if !seen.insert(s) || s <= last {
            bad += 1;
        }
        last = last.max(s);
    }
    bad
}

fn reply_id(v: &Value) -> Option<String> {
    v.get("reply")?
        .as_str()?
        .split(' ')
        .next()
        .map(str::to_string)
}

/// Size and mtime of every file under `dir` (what "written" means outside).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(m) = fs::symlink_metadata(e.path()) {
                out.insert(e.path(), (m.len(), m.mtime(), m.mtime_nsec()));
            }
        }
    }
    out
}

fn kill_storm(o: &Opts, round: usize, t: &mut Totals) -> Result<()> {
    let env = world::fake();
    let hook = bin("orch-hook");
    let store = world::store(&env);
    // Small enough that every pane rotates, large enough that the two
    // generations kept still hold every record of the storm.
    // About 430 bytes a record; the limit at 65% of a pane's share makes
    // it rotate once.
    let per_pane = (o.writers * o.events) as u64 * 24 / 25 / 4 * 430;
    let max = (per_pane * 65 / 100).max(16 * 1024);
    let extra = vec![("ORCH_LOG_MAX_BYTES", max.to_string())];
    // Links planted in the state dir, pointing outside it.
    let outside = env.dir.path().join("outside");
    fs::create_dir_all(&outside)?;
    fs::write(outside.join("victim"), "precious\n")?;
    let l = store.layout();
    std::os::unix::fs::symlink(outside.join("victim"), l.log(PaneId(97)))?;
    std::os::unix::fs::symlink(outside.join("dangling"), l.log(PaneId(98)))?;
    std::os::unix::fs::symlink(outside.join("victim"), l.pane_lock(PaneId(99)))?;
    std::os::unix::fs::symlink(
        outside.join("victim"),
        orch::layout::errors_log(store.root()),
    )?;
    let before = snapshot(&outside);

    let panes: Vec<PaneId> = (1..=4).map(PaneId).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<HashMap<PaneId, Vec<u64>>>> = Arc::default();
    let listener = {
        let (stop, seen, store, panes) = (stop.clone(), seen.clone(), store.clone(), panes.clone());
        std::thread::spawn(move || {
            let mut cursors: Vec<LogCursor> = panes.iter().map(|&p| LogCursor::new(p, 0)).collect();
            loop {
                let last = stop.load(Ordering::SeqCst);
                for c in &mut cursors {
                    if let Ok(evs) = c.poll(&store) {
                        seen.lock()
                            .unwrap()
                            .entry(c.pane)
                            .or_default()
                            .extend(evs.iter().map(|e| e.seq));
                    }
                }
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let completed: Arc<Mutex<Vec<(PaneId, String)>>> = Arc::default();
    let killed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..o.writers)
        .map(|w| {
            let (env_vars, hook, completed, killed, extra) = (
                env.vars(),
                hook.clone(),
                completed.clone(),
                killed.clone(),
                extra.clone(),
            );
            let events = o.events;
            std::thread::spawn(move || -> Result<()> {
                let env = EnvOnly(env_vars);
                for i in 0..events {
                    // Mostly the storm's panes; now and then a planted one.
                    let pane = if i % 25 == 24 {
                        PaneId(97 + (w as u32 % 3))
                    } else {
                        PaneId(1 + (w as u32 % 4))
                    };
                    let id = format!("r{round}w{w}i{i}");
                    let kill =
                        (rand_below(4) == 0).then(|| Duration::from_micros(rand_below(3000)));
                    let ok = env.hook(&hook, &pane.to_string(), &id, kill, &extra)?;
                    if ok {
                        completed.lock().unwrap().push((pane, id));
                    } else {
                        killed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("writer thread")?;
    }
    stop.store(true, Ordering::SeqCst);
    listener.join().expect("listener thread");

    let completed = completed.lock().unwrap().clone();
    let seen = seen.lock().unwrap();
    let (mut lost, mut dup) = (0, 0);
    for &p in &panes {
        let records = raw_records(&store, p);
        dup += duplicated_seqs(&records);
        let ids: HashSet<String> = records.iter().filter_map(reply_id).collect();
        lost += completed
            .iter()
            .filter(|(q, id)| *q == p && !ids.contains(id))
            .count() as u64;
        // The listener saw every record there is, each once.
        let mut heard = seen.get(&p).cloned().unwrap_or_default();
        let n = heard.len();
        heard.sort();
        heard.dedup();
        dup += (n - heard.len()) as u64;
        let final_seqs: HashSet<u64> = store.read_events(p, 0)?.iter().map(|e| e.seq).collect();
        lost += final_seqs
            .iter()
            .filter(|s| heard.binary_search(s).is_err())
            .count() as u64;
    }
    let after = snapshot(&outside);
    let outside_writes = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(v))
        .count() as u64;
    let rotations = panes
        .iter()
        .filter(|&&p| store.layout().rotated_log(p).exists())
        .count();
    println!(
        "kill storm {round}: {} writers x {} events, {} completed, {} SIGKILLed, {rotations}/4 panes rotated: lost {lost}, seqs duplicated {dup}, files written outside {outside_writes}",
        o.writers,
        o.events,
        completed.len(),
        killed.load(Ordering::Relaxed)
    );
    t.records_lost += lost;
    t.seqs_duplicated += dup;
    t.outside_writes += outside_writes;
    t.completed += completed.len() as u64;
    t.killed += killed.load(Ordering::Relaxed);
    Ok(())
}

/// A world's environment, movable into a thread.
struct EnvOnly(Vec<(&'static str, String)>);

impl EnvOnly {
    /// One `orch-hook stop` in `pane` with `id` in its reply; `kill_after`:
    /// SIGKILL it after that long. Returns whether it ran to completion.
    fn hook(
        &self,
        hook: &Path,
        pane: &str,
        id: &str,
        kill_after: Option<Duration>,
        extra: &[(&str, String)],
    ) -> Result<bool> {
        let pad = "x".repeat(rand_below(600) as usize);
        let payload =
            json!({"hook_event_name": "Stop", "last_assistant_message": format!("{id} {pad}")});
        let mut c = Command::new(hook);
        c.env_clear()
            .envs(self.0.iter().map(|(k, v)| (*k, v)))
            .env("TMUX_PANE", pane)
            .arg("stop")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra {
            c.env(k, v);
        }
        let mut child = c.spawn().context("cannot run orch-hook")?;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(payload.to_string().as_bytes());
        drop(stdin);
        if let Some(d) = kill_after {
            std::thread::sleep(d);
            let _ = child.kill();
        }
        let st = child.wait()?;
        Ok(st.signal().is_none() && st.success())
    }
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fill the filesystem holding `dir` to the last byte.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join(format!("filler-{}", rand_below(1 << 30)));
    if let Ok(mut f) = fs::File::create(&p) {
        let block = vec![b'f'; 4096];
        while f.write_all(&block).is_ok() {}
        for _ in 0..4096 {
            if f.write_all(b"f").is_err() {
                break;
            }
        }
    }
    p
}

fn full_disk(t: &mut Totals) -> Result<()> {
    let env = world::fake();
    let hook = bin("orch-hook");
    let mnt = env.dir.path().join("small-disk");
    let _fs = match Tmpfs::mount(&mnt, "512k") {
        Ok(f) => f,
        Err(why) => {
            println!("full disk: SKIPPED, cannot mount a tmpfs here ({why}); run as root");
            return Ok(());
        }
    };
    let state = mnt.join("state");
    let extra = vec![("ORCH_STATE_DIR", state.display().to_string())];
    let hooks = EnvOnly(env.vars());
    let server = world::server(&env);
    let store = Store::open_in(&state, &server)?;
    let panes: Vec<PaneId> = (1..=3).map(PaneId).collect();
    let mut must_have: Vec<(PaneId, String)> = Vec::new();
    let (mut during, rounds) = (0, 12);
    for round in 0..rounds {
        // With room: every one of these must be there at the end.
        for (k, &p) in panes.iter().enumerate() {
            let id = format!("d{round}p{k}ok");
            if hooks.hook(&hook, &p.to_string(), &id, None, &extra)? {
                must_have.push((p, id));
            }
        }
        let filler = fill(&mnt);
        // Full: these may be cut anywhere (torn records) or missing.
        for i in 0..6 {
            let p = panes[i % panes.len()];
            hooks.hook(
                &hook,
                &p.to_string(),
                &format!("d{round}full{i}"),
                None,
                &extra,
            )?;
            during += 1;
        }
        fs::remove_file(&filler)?;
    }
    let (mut lost, mut dup) = (0, 0);
    for &p in &panes {
        let records = raw_records(&store, p);
        dup += duplicated_seqs(&records);
        let ids: HashSet<String> = store
            .read_events(p, 0)?
            .iter()
            .filter_map(|e| e.reply.as_deref()?.split(' ').next().map(str::to_string))
            .collect();
        lost += must_have
            .iter()
            .filter(|(q, id)| *q == p && !ids.contains(id))
            .count() as u64;
    }
    println!(
        "full disk (512 KiB tmpfs, {rounds} rounds): {} hooks with room, {during} on a full disk: lost {lost}, seqs duplicated {dup}",
        must_have.len()
    );
    t.records_lost += lost;
    t.seqs_duplicated += dup;
    Ok(())
}

/// What the simulated Claude Code keeps in its settings besides orch's
/// hooks: none of it may ever go missing.
fn others_settings() -> Value {
    json!({
        "model": "opus",
        "permissions": {"allow": ["Bash(ls:*)"], "deny": []},
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "other-tool --on-stop"}]}]},
        "counter": 0
    })
}

/// Which of the other tool's keys `v` lacks.
fn keys_missing(v: &Value) -> u64 {
    let mut n = 0;
    if v.get("model") != Some(&json!("opus")) {
        n += 1;
    }
    if v.get("permissions").is_none() {
        n += 1;
    }
    let other_hook = v["hooks"]["Stop"].as_array().is_some_and(|a| {
        a.iter()
            .any(|g| g.to_string().contains("other-tool --on-stop"))
    });
    if !other_hook {
        n += 1;
    }
    n
}

fn settings_race(o: &Opts, in_place: bool, t: &mut Totals) -> Result<()> {
    let env = TestEnv::new();
    fs::create_dir_all(&env.claude_config)?;
    let path = env.claude_config.join("settings.json");
    fs::write(
        &path,
        serde_json::to_string_pretty(&others_settings())? + "\n",
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || -> (u64, u64, u64) {
            let (mut writes, mut lost, mut missing) = (0u64, 0u64, 0u64);
            let mut counter = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Claude Code: read, change its own key, write back.
                let Ok(text) = fs::read(&path) else { continue };
                let Ok(mut v) = serde_json::from_slice::<Value>(&text) else {
                    continue;
                };
                missing += keys_missing(&v);
                counter += 1;
                v["counter"] = json!(counter);
                let data = serde_json::to_string_pretty(&v).unwrap() + "\n";
                if in_place {
                    // Node's writeFileSync: O_TRUNC, then write.
                    if let Ok(mut f) = fs::File::create(&path) {
                        let _ = f.write_all(data.as_bytes());
                    }
                } else {
                    let tmp = path.with_extension("json.claude-tmp");
                    let _ = fs::write(&tmp, &data).and_then(|_| fs::rename(&tmp, &path));
                }
                writes += 1;
                std::thread::sleep(Duration::from_micros(500 + rand_below(3000)));
                // Was this write overwritten by someone who had not seen it?
                if let Ok(v) = fs::read(&path)
                    .map_err(|_| ())
                    .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|_| ()))
                    && v["counter"].as_u64().is_some_and(|c| c < counter)
                {
                    lost += 1;
                    counter = v["counter"].as_u64().unwrap_or(counter);
                }
            }
            (writes, lost, missing)
        })
    };
    let mut failures = 0;
    let ops: Vec<Vec<&str>> = (0..o.cycles)
        .flat_map(|_| [vec!["up", "--quiet"], vec!["down", "--yes", "--keep-state"]])
        .collect();
    // Two at a time, as two terminals would.
    for pair in ops.chunks(2) {
        let kids: Vec<_> = pair
            .iter()
            .map(|args| {
                env.cmd("orch")
                    .args(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        for k in kids {
            let out = k.wait_with_output()?;
            if !out.status.success() {
                failures += 1;
                eprintln!("  orch: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    let (writes, lost, mut missing) = writer.join().expect("writer thread");
    let final_v: Value = serde_json::from_slice(&fs::read(&path)?)?;
    missing += keys_missing(&final_v);
    println!(
        "settings race ({} writer, {} up + {} down): keys lost {missing}, writer's writes lost {lost} of {writes}, orch failures {failures}",
        if in_place { "in-place" } else { "atomic" },
        o.cycles,
        o.cycles
    );
    t.settings_keys_lost += missing;
    t.writer_writes += writes;
    t.writer_lost += lost;
    t.orch_failures += failures;
    Ok(())
}
