//! `spawn --worktree [BRANCH]`: a git worktree per agent, so parallel agents
//! never share a checkout.
//!
//! Layout: the worktree of branch `B` for the repository at `/src/app` is
//! `/src/app.worktrees/<B with '/' replaced by '-'>`, beside the repository
//! (not inside it, so it never shows up in the repository's `git status`).
//! An existing branch is checked out; a new one is created from `HEAD`. The
//! agent starts in the same subdirectory it would have started in within
//! the main checkout. Everything is checked before anything is created.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::exit::Fail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// The main checkout's top level.
    pub repo: PathBuf,
    pub path: PathBuf,
    pub branch: String,
    /// The branch does not exist yet and will be created from HEAD.
    pub new_branch: bool,
    /// Where the agent starts: `path` joined with the caller's subdirectory.
    pub cwd: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run git; is it installed?")
}

fn git_line(dir: &Path, args: &[&str]) -> Option<String> {
    let out = git(dir, args).ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_string()
    })
}

/// Check everything and decide where the worktree goes; changes nothing.
pub fn plan(cwd: &Path, branch: &str) -> Result<Worktree> {
    let Some(top) = git_line(cwd, &["rev-parse", "--show-toplevel"]) else {
        return Err(Fail::usage(format!(
            "--worktree needs a git repository, but {} is not inside one (git init, or drop --worktree)",
            cwd.display()
        )));
    };
    let repo = PathBuf::from(top);
    let prefix = git_line(cwd, &["rev-parse", "--show-prefix"]).unwrap_or_default();
    let ok = git(cwd, &["check-ref-format", "--branch", branch])?;
    if !ok.status.success() || branch.starts_with('-') {
        return Err(Fail::usage(format!(
            "--worktree: {branch:?} is not a valid branch name"
        )));
    }
    let repo_name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    let parent = repo.parent().unwrap_or(Path::new("/"));
    let path = parent
        .join(format!("{repo_name}.worktrees"))
        .join(branch.replace('/', "-"));
    if path.exists() {
        return Err(Fail::usage(format!(
            "--worktree: {} already exists; pick another branch name or remove it (git worktree remove {})",
            path.display(),
            path.display()
        )));
    }
    let new_branch = !git(
        &repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )?
    .status
    .success();
    if new_branch && git_line(&repo, &["rev-parse", "--verify", "--quiet", "HEAD"]).is_none() {
        return Err(Fail::usage(format!(
            "--worktree: {} has no commits yet; commit once before giving agents worktrees",
            repo.display()
        )));
    }
    let cwd = path.join(prefix.trim_end_matches('/'));
    Ok(Worktree {
        repo,
        path,
        branch: branch.to_string(),
        new_branch,
        cwd,
    })
}

impl Worktree {
    pub fn create(&self) -> Result<()> {
        let path = self.path.to_string_lossy();
        let args: Vec<&str> = if self.new_branch {
            vec!["worktree", "add", "-b", &self.branch, &path]
        } else {
            vec!["worktree", "add", &path, &self.branch]
        };
        let out = git(&self.repo, &args)?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            bail!(
                "git worktree add {} failed: {}",
                self.path.display(),
                last.trim()
            );
        }
        if !self.cwd.is_dir() {
            // The caller's subdirectory is untracked in this branch.
            std::fs::create_dir_all(&self.cwd)
                .with_context(|| format!("cannot create {}", self.cwd.display()))?;
        }
        Ok(())
    }

    /// Undo [`Worktree::create`] after a later step failed.
    pub fn remove(&self) {
        let path = self.path.to_string_lossy();
        let _ = git(&self.repo, &["worktree", "remove", "--force", &path]);
        if self.new_branch {
            let _ = git(&self.repo, &["branch", "-D", &self.branch]);
        }
    }
}
