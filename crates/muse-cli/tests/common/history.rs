//! Histories built with the git CLI and imported (`muse import git`), so that a test can hold
//! merges, renames and provenance trailers, and compare muse with git on the same history.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::Muse;

/// Runs git in `dir` with a fixed identity and no user configuration; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, args, &[])
}

/// [`git`] with extra environment variables.
pub fn git_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("git is installed");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A git repository being written commit by commit, with increasing dates.
pub struct GitHistory {
    /// The repository's working tree.
    pub dir: PathBuf,
    tick: u32,
}

impl GitHistory {
    /// A new repository on branch `main` in `root/src`.
    pub fn new(root: &Path) -> GitHistory {
        let dir = root.join("src");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "--quiet", "--initial-branch", "main"]);
        GitHistory { dir, tick: 0 }
    }

    /// Writes (`Some`) or deletes (`None`) files, then commits everything with `message`;
    /// returns the git commit id.
    pub fn commit(&mut self, files: &[(&str, Option<&str>)], message: &str) -> String {
        for (path, content) in files {
            let full = self.dir.join(path);
            match content {
                Some(text) => {
                    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                    std::fs::write(&full, text).unwrap();
                }
                None => std::fs::remove_file(&full).unwrap(),
            }
        }
        git(&self.dir, &["add", "-A"]);
        let date = self.next_date();
        git_with(&self.dir, &["commit", "--quiet", "--allow-empty", "-m", message], &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)]);
        self.head()
    }

    /// Merges `branch` into the current branch with a merge commit (no fast-forward).
    pub fn merge(&mut self, branch: &str, message: &str) -> String {
        let date = self.next_date();
        git_with(&self.dir, &["merge", "--quiet", "--no-ff", "-m", message, branch], &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)]);
        self.head()
    }

    /// Runs any git command in the repository.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    /// The current commit's id.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    fn next_date(&mut self) -> String {
        self.tick += 1;
        format!("{} +0000", 1_700_000_000 + self.tick * 60)
    }

    /// Imports the repository into `root/muse` and returns the Muse repository's directory.
    pub fn import(&self, root: &Path) -> PathBuf {
        let target = root.join("muse");
        Muse::new(root).args(["import", "git", self.dir.to_str().unwrap(), target.to_str().unwrap()]).run().ok();
        target
    }
}

/// The import's git → muse commit id map of the Muse repository `dir`.
pub fn git_map(dir: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(dir.join(".muse/import/git-map")).unwrap();
    text.lines().skip(1).filter_map(|l| l.split_once(' ')).map(|(g, m)| (g.to_string(), m.to_string())).collect()
}
