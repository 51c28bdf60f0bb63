//! Other hosts for the remote tests: real `sshd`s on 127.0.0.1 with
//! throwaway keys, each host a private world of its own ([`TestEnv`]: its
//! own HOME, orch state and config, and a tmux server under its own
//! `TMUX_TMPDIR`), so nothing is shared with the local world by accident.
//!
//! The sshd config's `SetEnv` gives every session the host's world; the
//! client side is an ssh config file, used through `ORCH_SSH`. Hosts:
//!
//! - `box`: orch installed in `~/.local/bin` (which a non-interactive ssh
//!   PATH lacks: orch must find it anyway);
//! - `bare`: reachable, no orch;
//! - `noauth`: `box`'s sshd, with a key it does not accept;
//! - `down`: a port nothing listens on.
//!
//! Dropping it stops the sshds, the ssh connection masters orch started,
//! and the remote tmux servers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bins::bin_dir;
use crate::env::TestEnv;

pub struct SshHosts {
    dir: tempfile::TempDir,
    /// The client's ssh config (`ORCH_SSH="ssh -F <this>"`).
    pub config: PathBuf,
    /// The world of host `box`.
    pub remote: TestEnv,
    /// The world of host `bare` (no orch).
    pub bare: TestEnv,
    sshd: Vec<Child>,
    /// The local world's state dir (where orch keeps its ssh sockets).
    local_state: PathBuf,
}

fn sshd_path() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("sshd"))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

impl SshHosts {
    /// Start the hosts for tests run from `local`. `None` (after printing
    /// `SKIPPED: …`) where sshd or ssh is missing; with `CI` set that is a
    /// failure (`.ci/run` installs openssh-server).
    pub fn start(local: &TestEnv) -> Option<SshHosts> {
        let missing = match (sshd_path(), which("ssh"), which("ssh-keygen")) {
            (Some(_), Some(_), Some(_)) => None,
            _ => Some("sshd, ssh or ssh-keygen is not installed (apt-get install openssh-server)"),
        };
        if let Some(why) = missing {
            crate::skip::skipped(why, "the remote tests need sshd in CI");
            return None;
        }
        match SshHosts::try_start(local) {
            Ok(h) => Some(h),
            Err(why) => {
                crate::skip::skipped(
                    &format!("sshd does not start here: {why}"),
                    "the remote tests need a working sshd in CI",
                );
                None
            }
        }
    }

    fn try_start(local: &TestEnv) -> Result<SshHosts, String> {
        // sshd refuses to start without its privilege-separation dir.
        if nix_is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("orch-ssh")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        keygen(&d.join("stranger_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .map_err(|e| e.to_string())?;

        let remote = TestEnv::new();
        let bare = TestEnv::new();
        // orch "installed" on box the way install.sh does: in ~/.local/bin.
        let local_bin = remote.home.join(".local/bin");
        std::fs::create_dir_all(&local_bin).map_err(|e| e.to_string())?;
        for e in std::fs::read_dir(bin_dir())
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if (name == "orch" || name.starts_with("orch-")) && !name.contains('.') {
                let _ = std::os::unix::fs::symlink(e.path(), local_bin.join(&name));
            }
        }

        let mut sshd = Vec::new();
        let mut ports = Vec::new();
        for (i, world) in [&remote, &bare].into_iter().enumerate() {
            let port = free_port();
            let conf = d.join(format!("sshd_config.{i}"));
            let setenv: Vec<String> = world
                .vars()
                .into_iter()
                .filter(|(k, _)| !matches!(*k, "PATH" | "TMUX" | "ORCH_TMUX_SOCKET" | "CI"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let text = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.{i}.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nMaxStartups 100\nMaxSessions 100\n\
                 SetEnv {}\nLogLevel ERROR\n",
                setenv.join(" "),
                d = d.display()
            );
            std::fs::write(&conf, text).map_err(|e| e.to_string())?;
            let child = Command::new(sshd_path().unwrap())
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(d.join(format!("sshd.{i}.log")))
                        .map_err(|e| e.to_string())?,
                )
                .spawn()
                .map_err(|e| format!("cannot start sshd: {e}"))?;
            sshd.push(child);
            ports.push(port);
        }
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let host = |alias: &str, port: u16, key: &str| {
            format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/{key}\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking no\n  LogLevel ERROR\n",
                d = d.display()
            )
        };
        let config = d.join("ssh_config");
        let text = [
            host("box", ports[0], "client_key"),
            host("bare", ports[1], "client_key"),
            host("noauth", ports[0], "stranger_key"),
            host("down", free_port(), "client_key"),
        ]
        .concat();
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let hosts = SshHosts {
            config,
            remote,
            bare,
            sshd,
            local_state: local.state.clone(),
            dir,
        };
        for (port, i) in ports.iter().zip(0..) {
            hosts.wait_listening(*port, i)?;
        }
        Ok(hosts)
    }

    fn wait_listening(&self, port: u16, i: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.path().join(format!("sshd.{i}.log")))
            .unwrap_or_default();
        Err(format!("sshd did not listen on {port}: {}", log.trim()))
    }

    /// `("ORCH_SSH", "ssh -F <config>")`, for the local side's commands.
    pub fn orch_ssh(&self) -> (&'static str, String) {
        ("ORCH_SSH", format!("ssh -F {}", self.config.display()))
    }

    /// A local orch command (from `local`) that reaches the hosts.
    pub fn cmd(&self, local: &TestEnv, name: &str) -> Command {
        let mut c = local.cmd(name);
        let (k, v) = self.orch_ssh();
        c.env(k, v);
        c
    }

    /// `orch --host box spawn echo --headless --name NAME -- --turn-ms 20`
    /// from `local`: an echo agent on `box` (a tmux server started there
    /// if it has none), answering each prompt after 20 ms.
    pub fn spawn_echo(&self, local: &TestEnv, name: &str) -> std::process::Output {
        self.cmd(local, "orch")
            .args([
                "--host",
                "box",
                "spawn",
                "echo",
                "--headless",
                "--name",
                name,
            ])
            .args(["--", "--turn-ms", "20"])
            .output()
            .expect("orch")
    }

    /// tmux on host `box`'s own default server.
    pub fn remote_tmux(&self, args: &[&str]) -> std::process::Output {
        self.remote
            .command("tmux")
            .args(args)
            .output()
            .expect("tmux")
    }
}

fn nix_is_root() -> bool {
    uid() == 0
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        // orch's connection masters (ControlPersist) outlive the commands.
        if let Ok(rd) = std::fs::read_dir(self.local_state.join("ssh")) {
            for e in rd.flatten() {
                let _ = Command::new("ssh")
                    .arg("-o")
                    .arg(format!("ControlPath={}", e.path().display()))
                    .args(["-O", "exit", "unused"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for world in [&self.remote, &self.bare] {
            let sock = world.tmp.join(format!("tmux-{}", uid())).join("default");
            if sock.exists() {
                crate::tmux::shut_down(&sock);
            }
        }
        for c in &mut self.sshd {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}
