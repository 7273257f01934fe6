//! Confinement after start-up (Linux Landlock, where the kernel has it).
//!
//! Once the capture handle, the config and the output files are open (and
//! privileges dropped), plugsniff needs the filesystem only to rotate or
//! reopen its outputs. [`confine`] restricts the process with Landlock so that
//! every filesystem access is refused except beneath the output directories.
//! Open descriptors (the capture, stdout, open files) keep working.
//!
//! What is confined: opening, creating, removing and executing files anywhere
//! else. What is not: the network (the capture is a raw socket already open;
//! Landlock ABI < 4 has no network rules), and everything on kernels without
//! Landlock (the run goes on, and says so at `-v`). No seccomp filter is
//! installed.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    path_beneath_rules,
};

/// What [`confine`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    Full,
    Partial,
    /// The kernel has no Landlock (or refused): not confined.
    None,
}

/// Restricts filesystem access to beneath `writable` (the output directories).
pub fn confine(writable: &[PathBuf]) -> Confinement {
    let abi = ABI::V2;
    let dirs: Vec<&Path> = writable.iter().map(PathBuf::as_path).collect();
    let r = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&dirs, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self());
    match r {
        Ok(s) => match s.ruleset {
            RulesetStatus::FullyEnforced => Confinement::Full,
            RulesetStatus::PartiallyEnforced => Confinement::Partial,
            RulesetStatus::NotEnforced => Confinement::None,
        },
        Err(e) => {
            tracing::info!("Landlock not applied: {e}");
            Confinement::None
        }
    }
}

/// The directory an output file lives in (for [`confine`]).
pub fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Landlock binds the calling thread (and what it spawns), so a test can
    /// confine a thread of its own without touching the others.
    #[test]
    fn confined_thread_writes_outputs_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_path_buf();
        let r = std::thread::spawn(move || {
            let c = confine(std::slice::from_ref(&out));
            let inside = std::fs::write(out.join("events.jsonl"), b"ok\n").is_ok();
            let rename =
                std::fs::rename(out.join("events.jsonl"), out.join("events.jsonl.1")).is_ok();
            let outside_read =
                std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).is_ok();
            let outside_write =
                std::fs::write(std::env::temp_dir().join("plugsniff-escape"), b"x").is_ok();
            (c, inside, rename, outside_read, outside_write)
        })
        .join()
        .unwrap();
        let (c, inside, rename, outside_read, outside_write) = r;
        assert!(inside && rename, "outputs must stay writable");
        if c == Confinement::None {
            eprintln!("SKIP: this kernel has no Landlock; nothing to check");
            return;
        }
        assert!(
            !outside_read,
            "reading outside the output dirs must be refused"
        );
        assert!(
            !outside_write,
            "writing outside the output dirs must be refused"
        );
    }
}
