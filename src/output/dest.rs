//! Where every output goes, and the checks that keep an output from
//! destroying anything.
//!
//! Every file plugsniff writes goes through this module: `decrypt -o` and
//! `--export-keys`, `watch -w` and `--jsonl`, the daemon's `[output]` pcap
//! and JSON-lines file, `synth -o`, `bench --write-pcap`, `merge -o`. It owns
//! two things.
//!
//! **The checks** ([`check`], called before any input is read). An output is
//! refused ([`Refused`]: the flag, the path and why; exit 2) when it is
//! - the same file as an input: same device and inode, so through symlinks
//!   and hard links too. The inputs are the capture (`decrypt IN`, `-r`, and
//!   standard input when it is `-`), the config file, the Wireshark key files
//!   (`--wireshark-keys`, `wireshark_keys =` in the config) and
//!   `bench --pcap`;
//! - the same file (or the same name) as another output;
//! - a directory, a character or block device, a socket, or a symlink that
//!   points nowhere or at one of these;
//! - to be written through `NAME.partial` while `NAME.partial` exists and is
//!   not a regular file, or is an input; the same for the names a rotated
//!   pcap moves to (`NAME.1` … `NAME.<keep>`);
//! - `-` where standard output is not accepted (only `-o` and `-w` take it),
//!   or standard output while it is a terminal (a pcap is binary).
//!
//! **The writing** ([`OutFile`]):
//! - a regular file, or a name that does not exist yet, is written as
//!   `NAME.partial`, created exclusively with mode 0600 and renamed over
//!   `NAME` only by [`OutFile::commit`], and only if `NAME` is then absent or
//!   a regular file. Dropping an uncommitted `OutFile` (an error, an early
//!   return, unwinding) removes `NAME.partial`. A file that replaces an
//!   existing one is therefore 0600 whatever the old file's mode was;
//! - a FIFO is written directly: no `.partial`, no rename;
//! - `-` is written to file descriptor 1 directly (the caller sends every
//!   human-readable line to stderr then);
//! - the JSON-lines event log is appended to in place (it is reopened after
//!   logrotate moved it, so it has no `.partial`): created 0600, and an
//!   existing file is set to 0600 (`fchmod`) before anything is appended, as
//!   the events carry what the decrypted traffic said. A file plugsniff may
//!   append to but not `chmod` (another user's) is an error, not a leak.
//!
//! **Symlinks** to a regular file or a FIFO are followed: the target is what
//! is written, its directory receives `TARGET.partial`, and the target is
//! replaced by the rename; the link itself is left alone and points at the
//! new file. A dangling symlink is refused: creating a file through a link
//! someone else planted is the classic `/tmp` attack, and nothing is lost by
//! asking for the real name.
//!
//! Not covered: the window between the checks and the `open` (a process that
//! swaps a directory entry in between can still win; the rename re-checks
//! the final name), and locking against another plugsniff writing the same
//! file.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What is appended to a name while it is being written.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// The mode of every file plugsniff creates: decrypted traffic, keys and
/// events are as private as the passphrase.
pub const PRIVATE_MODE: u32 = 0o600;

/// How an output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Written whole as `NAME.partial`, then renamed (pcaps, key files).
    Replace,
    /// Appended to in place (the JSON-lines event log).
    Append,
    /// `Replace`, and rotated by size: `NAME` moves to `NAME.1`, older ones
    /// up to `NAME.<keep>`.
    Rotated { keep: u32 },
}

/// One output as the user named it.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec<'a> {
    /// The option that named it (`-o`, `--jsonl`, `[output] pcap`), for messages.
    pub flag: &'static str,
    pub path: &'a Path,
    pub role: Role,
    /// `-` means standard output (only `-o` and `-w`).
    pub stdout_ok: bool,
}

impl<'a> OutputSpec<'a> {
    pub fn new(flag: &'static str, path: &'a Path, role: Role) -> Self {
        OutputSpec {
            flag,
            path,
            role,
            stdout_ok: false,
        }
    }

    /// Accepts `-` as standard output.
    pub fn or_stdout(mut self) -> Self {
        self.stdout_ok = true;
        self
    }
}

/// One file the run reads; `-` is standard input.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec<'a> {
    /// The option that named it, for messages.
    pub flag: &'static str,
    pub path: &'a Path,
}

/// Where an output is written, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// File descriptor 1.
    Stdout,
    /// A FIFO, written directly.
    Fifo(PathBuf),
    /// A regular file (or a new one), with symlinks resolved: written as
    /// `NAME.partial`, or appended to.
    File(PathBuf),
}

impl Target {
    /// The path written, or `None` for standard output.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Target::Stdout => None,
            Target::Fifo(p) | Target::File(p) => Some(p),
        }
    }

    /// For messages: the path, or `-` for standard output.
    pub fn display(&self) -> String {
        match self.path() {
            Some(p) => p.display().to_string(),
            None => "-".into(),
        }
    }
}

/// An output refused before anything was read or written.
#[derive(Debug, thiserror::Error)]
#[error("refusing {flag} {}: {reason}", path.display())]
pub struct Refused {
    pub flag: &'static str,
    pub path: PathBuf,
    pub reason: String,
}

/// `NAME.partial`.
pub fn partial_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(PARTIAL_SUFFIX);
    PathBuf::from(s)
}

/// `NAME.i`, a rotated pcap.
pub fn numbered(p: &Path, i: u32) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// The file-type word for a refusal, or `None` for a type that may be written.
fn forbidden_type(m: &Metadata) -> Option<&'static str> {
    let t = m.file_type();
    if t.is_dir() {
        Some("it is a directory")
    } else if t.is_char_device() {
        Some("it is a character device")
    } else if t.is_block_device() {
        Some("it is a block device")
    } else if t.is_socket() {
        Some("it is a socket")
    } else if t.is_file() || t.is_fifo() {
        None
    } else {
        Some("it is not a regular file or a FIFO")
    }
}

/// Resolves one output and checks its type (not its identity against the
/// inputs: see [`check`]).
pub fn resolve(spec: &OutputSpec<'_>) -> Result<Target, Refused> {
    let refuse = |reason: String| Refused {
        flag: spec.flag,
        path: spec.path.to_path_buf(),
        reason,
    };
    let p = spec.path;
    if p.as_os_str() == "-" {
        if !spec.stdout_ok {
            return Err(refuse(
                "`-` (standard output) is accepted only by -o and -w".into(),
            ));
        }
        if io::stdout().is_terminal() {
            return Err(refuse(
                "standard output is a terminal and a pcap is binary: pipe it \
                 (`| wireshark -k -i -`, `| tshark -r -`) or name a file"
                    .into(),
            ));
        }
        return Ok(Target::Stdout);
    }
    if p.as_os_str().is_empty() {
        return Err(refuse("an empty file name".into()));
    }
    let target = match fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let Some(name) = p.file_name() else {
                return Err(refuse("not a file name".into()));
            };
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let cdir = fs::canonicalize(dir).map_err(|e| {
                refuse(format!(
                    "its directory {} cannot be used: {e}",
                    dir.display()
                ))
            })?;
            if !cdir.is_dir() {
                return Err(refuse(format!("{} is not a directory", dir.display())));
            }
            Target::File(cdir.join(name))
        }
        Err(e) => return Err(refuse(format!("cannot inspect it: {e}"))),
        Ok(m) => {
            let link = m.file_type().is_symlink();
            let (real, m) = if link {
                let real = fs::canonicalize(p).map_err(|_| {
                    refuse(
                        "a symlink that points nowhere: plugsniff does not create files \
                         through symlinks (name the real path)"
                            .into(),
                    )
                })?;
                let m = fs::metadata(&real).map_err(|e| refuse(format!("{e}")))?;
                (real, m)
            } else {
                let real = fs::canonicalize(p).map_err(|e| refuse(format!("{e}")))?;
                (real, m)
            };
            if let Some(why) = forbidden_type(&m) {
                let via = if link {
                    format!(" (the symlink points at {})", real.display())
                } else {
                    String::new()
                };
                return Err(refuse(format!("{why}{via}")));
            }
            if m.file_type().is_fifo() {
                Target::Fifo(real)
            } else {
                Target::File(real)
            }
        }
    };
    if let Target::File(f) = &target {
        let mut aux = Vec::new();
        if matches!(spec.role, Role::Replace | Role::Rotated { .. }) {
            aux.push(partial_name(f));
        }
        if let Role::Rotated { keep } = spec.role {
            aux.extend((1..=keep).map(|i| numbered(f, i)));
        }
        for a in aux {
            match fs::symlink_metadata(&a) {
                Ok(m) if !m.is_file() => {
                    let what = if m.is_symlink() {
                        "a symlink"
                    } else {
                        forbidden_type(&m).map_or("a FIFO", |w| w.trim_start_matches("it is "))
                    };
                    return Err(refuse(format!(
                        "{} exists and is {what}: plugsniff replaces only regular files there \
                         (move it away)",
                        a.display()
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(target)
}

/// A file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    fn of(m: &Metadata) -> FileId {
        FileId(m.dev(), m.ino())
    }
}

/// The identity of what a file descriptor is open on, when it is a regular
/// file or a FIFO (a terminal is no file an output could destroy).
fn fd_id(fd: std::os::fd::BorrowedFd<'_>) -> Option<FileId> {
    let f = File::from(fd.try_clone_to_owned().ok()?);
    let m = f.metadata().ok()?;
    (m.is_file() || m.file_type().is_fifo()).then(|| FileId::of(&m))
}

fn input_id(i: &InputSpec<'_>) -> Option<FileId> {
    if i.path.as_os_str() == "-" {
        fd_id(io::stdin().as_fd())
    } else {
        fs::metadata(i.path).ok().map(|m| FileId::of(&m))
    }
}

/// Every name an output touches, with what it is to the output.
fn touched(t: &Target, role: Role) -> Vec<(PathBuf, &'static str)> {
    let mut v = Vec::new();
    match t {
        Target::Stdout => {}
        Target::Fifo(p) => v.push((p.clone(), "")),
        Target::File(p) => {
            v.push((p.clone(), ""));
            if role != Role::Append {
                v.push((partial_name(p), "its temporary file "));
            }
            if let Role::Rotated { keep } = role {
                v.extend((1..=keep).map(|i| (numbered(p, i), "a rotated file ")));
            }
        }
    }
    v
}

/// Resolves every output and checks it against the inputs and the other
/// outputs (see the module doc). Call before any input is read and before
/// anything is prompted for. Returns the targets in the order given.
pub fn check(inputs: &[InputSpec<'_>], outputs: &[OutputSpec<'_>]) -> Result<Vec<Target>, Refused> {
    let ins: Vec<(&InputSpec<'_>, FileId)> = inputs
        .iter()
        .filter_map(|i| input_id(i).map(|id| (i, id)))
        .collect();
    struct Done<'a> {
        spec: &'a OutputSpec<'a>,
        target: Target,
        names: Vec<PathBuf>,
        ids: Vec<FileId>,
    }
    let mut done: Vec<Done<'_>> = Vec::new();
    for spec in outputs {
        let refuse = |reason: String| Refused {
            flag: spec.flag,
            path: spec.path.to_path_buf(),
            reason,
        };
        let target = resolve(spec)?;
        let names = touched(&target, spec.role);
        let mut ids: Vec<(FileId, String)> = Vec::new();
        if target == Target::Stdout
            && let Some(id) = fd_id(io::stdout().as_fd())
        {
            ids.push((id, "standard output ".into()));
        }
        for (n, label) in &names {
            if let Ok(m) = fs::metadata(n) {
                let label = if label.is_empty() {
                    String::new()
                } else {
                    format!("{label}{} ", n.display())
                };
                ids.push((FileId::of(&m), label));
            }
        }
        for (id, label) in &ids {
            if let Some((i, _)) = ins.iter().find(|(_, iid)| iid == id) {
                let what = if i.path.as_os_str() == "-" {
                    format!("standard input ({})", i.flag)
                } else {
                    format!("{} {}", i.flag, i.path.display())
                };
                let subject = if label.is_empty() {
                    "it".to_string()
                } else {
                    label.trim_end().to_string()
                };
                return Err(refuse(format!(
                    "{subject} is the same file as {what}, which is read: writing it would destroy it"
                )));
            }
        }
        for d in &done {
            let same_stdout = target == Target::Stdout && d.target == Target::Stdout;
            let same_name = names.iter().any(|(n, _)| d.names.contains(n));
            let same_file = ids.iter().any(|(id, _)| d.ids.contains(id));
            if same_stdout || same_name || same_file {
                return Err(refuse(format!(
                    "it is the same file as {} {}: each output needs its own",
                    d.spec.flag,
                    d.spec.path.display()
                )));
            }
        }
        done.push(Done {
            spec,
            target,
            names: names.into_iter().map(|(n, _)| n).collect(),
            ids: ids.into_iter().map(|(id, _)| id).collect(),
        });
    }
    Ok(done.into_iter().map(|d| d.target).collect())
}

/// [`resolve`] for an output no input can collide with (synthetic captures,
/// tests), as an I/O error.
pub fn resolve_io(path: &Path, role: Role) -> io::Result<Target> {
    resolve(&OutputSpec::new("output", path, role))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// An output file being written: see the module doc. Unbuffered: wrap it in
/// a `BufWriter`.
pub struct OutFile {
    file: Option<File>,
    /// `NAME.partial` while it exists and is ours to remove.
    partial: Option<PathBuf>,
    /// The final name (the rename's destination).
    dest: Option<PathBuf>,
}

fn not_regular(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} exists and is not a regular file: not replaced",
            p.display()
        ),
    )
}

/// Refuses a name that exists and is not a regular file (the rename would
/// replace it).
pub fn ensure_replaceable(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if !m.is_file() => Err(not_regular(p)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn stdout_file() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

fn open_fifo(p: &Path) -> io::Result<File> {
    // Blocks until a reader opens it, as a pipe would.
    let f = OpenOptions::new().write(true).open(p)?;
    if !f.metadata()?.file_type().is_fifo() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is no longer a FIFO", p.display()),
        ));
    }
    Ok(f)
}

impl OutFile {
    fn direct(f: File) -> OutFile {
        OutFile {
            file: Some(f),
            partial: None,
            dest: None,
        }
    }

    /// Starts writing a whole file ([`Role::Replace`], [`Role::Rotated`]).
    pub fn create(t: &Target) -> io::Result<OutFile> {
        match t {
            Target::Stdout => Ok(Self::direct(stdout_file()?)),
            Target::Fifo(p) => Ok(Self::direct(open_fifo(p)?)),
            Target::File(p) => {
                let partial = partial_name(p);
                match fs::symlink_metadata(&partial) {
                    // A leftover of a run that was killed: ours to replace.
                    Ok(m) if m.is_file() => fs::remove_file(&partial)?,
                    Ok(_) => return Err(not_regular(&partial)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(PRIVATE_MODE)
                    .open(&partial)?;
                let out = OutFile {
                    file: Some(f),
                    partial: Some(partial),
                    dest: Some(p.clone()),
                };
                // Whatever the umask: 0600 exactly (removed on error by Drop).
                if let Some(f) = &out.file {
                    f.set_permissions(fs::Permissions::from_mode(PRIVATE_MODE))?;
                }
                Ok(out)
            }
        }
    }

    /// Opens a file to append to ([`Role::Append`]).
    pub fn append(t: &Target) -> io::Result<OutFile> {
        match t {
            Target::Stdout => Ok(Self::direct(stdout_file()?)),
            Target::Fifo(p) => Ok(Self::direct(open_fifo(p)?)),
            Target::File(p) => {
                let f = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(PRIVATE_MODE)
                    .open(p)?;
                let m = f.metadata()?;
                if !m.is_file() {
                    return Err(not_regular(p));
                }
                if m.mode() & 0o7777 != PRIVATE_MODE {
                    f.set_permissions(fs::Permissions::from_mode(PRIVATE_MODE))
                        .map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!("cannot make {} private (mode 0600): {e}", p.display()),
                            )
                        })?;
                }
                Ok(Self::direct(f))
            }
        }
    }

    /// Finishes the output: a `.partial` file is synced and renamed over its
    /// final name (if that is absent or a regular file); a direct one is
    /// flushed. On error the `.partial` file is removed.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        match (&self.partial, &self.dest) {
            (Some(partial), Some(dest)) => {
                f.sync_all()?;
                drop(f);
                ensure_replaceable(dest)?;
                fs::rename(partial, dest)?;
                self.partial = None;
            }
            _ => {
                let mut f = f;
                f.flush()?;
            }
        }
        Ok(())
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("output already finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if let Some(p) = self.partial.take() {
            let _ = fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: &Path) -> OutputSpec<'_> {
        OutputSpec::new("-o", p, Role::Replace)
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn commit_renames_and_the_result_is_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.pcap");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let t = resolve(&spec(&p)).unwrap();
        let mut f = OutFile::create(&t).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(
            fs::read(&p).unwrap(),
            b"old",
            "the final name changes only at commit"
        );
        assert!(partial_name(&p).exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(mode(&p), 0o600);
        assert!(!partial_name(&p).exists());
    }

    #[test]
    fn dropping_an_uncommitted_file_removes_the_partial() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.pcap");
        let t = resolve(&spec(&p)).unwrap();
        let mut f = OutFile::create(&t).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert!(!partial_name(&p).exists());
        assert!(!p.exists());
    }

    #[test]
    fn a_stale_regular_partial_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.pcap");
        fs::write(partial_name(&p), b"stale").unwrap();
        let t = resolve(&spec(&p)).unwrap();
        let mut f = OutFile::create(&t).unwrap();
        f.write_all(b"x").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn refuses_directories_devices_and_dangling_links() {
        let d = tempfile::tempdir().unwrap();
        let e = resolve(&spec(d.path())).unwrap_err();
        assert!(e.reason.contains("directory"), "{e}");
        let e = resolve(&spec(Path::new("/dev/null"))).unwrap_err();
        assert!(e.reason.contains("character device"), "{e}");
        let link = d.path().join("null-link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let e = resolve(&spec(&link)).unwrap_err();
        assert!(e.reason.contains("character device"), "{e}");
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("nowhere/x"), &dangling).unwrap();
        let e = resolve(&spec(&dangling)).unwrap_err();
        assert!(e.reason.contains("points nowhere"), "{e}");
        let sock = d.path().join("sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = resolve(&spec(&sock)).unwrap_err();
        assert!(e.reason.contains("socket"), "{e}");
        let e = resolve(&spec(&d.path().join("no-such-dir/out.pcap"))).unwrap_err();
        assert!(e.reason.contains("directory"), "{e}");
        let e = resolve(&OutputSpec::new("--jsonl", Path::new("-"), Role::Append)).unwrap_err();
        assert!(e.reason.contains("only by -o and -w"), "{e}");
    }

    #[test]
    fn a_symlink_to_a_file_is_followed_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.pcap");
        fs::write(&real, b"old").unwrap();
        let link = d.path().join("link.pcap");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let t = resolve(&spec(&link)).unwrap();
        assert_eq!(t, Target::File(fs::canonicalize(&real).unwrap()));
        let mut f = OutFile::create(&t).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(fs::read(&link).unwrap(), b"new");
    }

    #[test]
    fn partial_and_rotated_names_must_be_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.pcap");
        std::os::unix::fs::symlink("/etc/passwd", partial_name(&p)).unwrap();
        let e = resolve(&spec(&p)).unwrap_err();
        assert!(e.reason.contains("symlink"), "{e}");
        let q = d.path().join("rot.pcap");
        fs::create_dir(numbered(&q, 3)).unwrap();
        let e = resolve(&OutputSpec::new("-w", &q, Role::Rotated { keep: 10 })).unwrap_err();
        assert!(e.reason.contains("rot.pcap.3"), "{e}");
        // Appending needs no .partial.
        assert!(resolve(&OutputSpec::new("--jsonl", &p, Role::Append)).is_ok());
    }

    #[test]
    fn same_file_as_an_input_through_links_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.pcap");
        fs::write(&input, b"capture").unwrap();
        let hard = d.path().join("hard.pcap");
        fs::hard_link(&input, &hard).unwrap();
        let sym = d.path().join("sym.pcap");
        std::os::unix::fs::symlink(&input, &sym).unwrap();
        let ins = [InputSpec {
            flag: "-r",
            path: &input,
        }];
        for out in [&input, &hard, &sym] {
            let e = check(&ins, &[spec(out)]).unwrap_err();
            assert!(e.reason.contains("same file as -r"), "{e}");
        }
        // NAME.partial being the input is refused too.
        let base = d.path().join("in");
        let e = check(
            &[InputSpec {
                flag: "-r",
                path: &partial_name(&base),
            }],
            &[spec(&base)],
        );
        assert!(e.is_ok(), "no such input file: nothing to protect");
        fs::write(partial_name(&base), b"capture").unwrap();
        let e = check(
            &[InputSpec {
                flag: "-r",
                path: &partial_name(&base),
            }],
            &[spec(&base)],
        )
        .unwrap_err();
        assert!(e.reason.contains("temporary file"), "{e}");
        assert_eq!(fs::read(&input).unwrap(), b"capture");
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let e = check(
            &[],
            &[
                spec(&a),
                OutputSpec::new("--export-keys", &a, Role::Replace),
            ],
        )
        .unwrap_err();
        assert_eq!(e.flag, "--export-keys");
        // One output's temporary name is another's final name.
        let e = check(
            &[],
            &[
                spec(&a),
                OutputSpec::new("--export-keys", &partial_name(&a), Role::Replace),
            ],
        )
        .unwrap_err();
        assert!(e.reason.contains("same file as -o"), "{e}");
        let b = d.path().join("b");
        assert_eq!(
            check(
                &[],
                &[
                    spec(&a),
                    OutputSpec::new("--export-keys", &b, Role::Replace)
                ]
            )
            .unwrap()
            .len(),
            2
        );
    }

    #[test]
    fn append_makes_an_existing_file_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("events.jsonl");
        fs::write(&p, b"one\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let t = resolve(&OutputSpec::new("--jsonl", &p, Role::Append)).unwrap();
        let mut f = OutFile::append(&t).unwrap();
        f.write_all(b"two\n").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one\ntwo\n");
        assert_eq!(mode(&p), 0o600);
    }
}
