//! libpcap, loaded at run time: the crate's foreign-function module.
//!
//! plugsniff reads capture files in Rust; only live capture and BPF filters
//! need libpcap. Linking it at build time would make every build (and every
//! machine running the binary, even for `decrypt`) need it, so it is opened
//! with `dlopen` when first needed, as masscan does (`src/stub-pcap.c`: a table
//! of function pointers filled by `dlsym`). A machine without libpcap builds
//! and runs plugsniff; only `watch -i`, `daemon` and `-f` then fail, with a
//! [`LoadError`] that lists what was tried and names the package to install.
//!
//! # Which library
//! [`ENV_LIBPCAP`] (`PLUGSNIFF_LIBPCAP`), when set, is the only candidate (an
//! explicit path: tests use it to simulate a machine without libpcap). Else
//! [`CANDIDATES`]: Linux `libpcap.so.1` (the soname of libpcap ≥ 1.0 on most
//! distributions), `libpcap.so.0.8` (Debian and Ubuntu's soname for the same
//! library), `libpcap.so` (the development symlink); macOS
//! `/usr/lib/libpcap.A.dylib` and `libpcap.dylib`. The first that loads *and*
//! has every function this module uses wins (libpcap ≥ 1.5, for
//! `pcap_set_immediate_mode`). The library is loaded once per process and
//! never unloaded, so the function pointers stay valid for the process.
//!
//! # Why `libloading`
//! The `libloading` crate (nagisa/rust_libloading) wraps `dlopen`/`dlsym`
//! and reads `dlerror` safely (it is not thread-safe by itself; libloading
//! documents how it copes); its `Symbol` checks a symbol is present before we
//! copy the pointer out. Hand-written `libc::dlopen` calls would only repeat
//! that with more `unsafe`. The declarations below are written by hand from
//! `pcap/pcap.h` and `pcap/bpf.h` (libpcap 1.10) rather than generated: the
//! `pcap` crate's `raw.rs` is the model, but it links libpcap.
//!
//! # The safe API
//! - [`Libpcap::get`]: the process's libpcap, or why it could not be loaded.
//! - [`Capture`]: an activated live handle, closed on drop; `Send` (it owns
//!   the whole lifetime of its `pcap_t`, which libpcap does not tie to a
//!   thread) but not `Sync` (libpcap does not promise that two threads may use
//!   one `pcap_t` at once). Frames borrow the handle until the next read, as
//!   libpcap's buffer does.
//! - [`BreakHandle`]: makes a blocked [`Capture::next_packet`] return from another
//!   thread (`pcap_breakloop`). It shares only a mutex-guarded pointer with
//!   its capture; dropping the capture clears the pointer under the mutex
//!   before `pcap_close`, so a handle that outlives its capture does nothing
//!   instead of touching freed memory.
//! - [`Program`]: a compiled BPF program, freed on drop, matched with
//!   `pcap_offline_filter`; [`Libpcap::compile`] compiles for a link type and
//!   snap length through `pcap_open_dead`.
//!
//! # Unsafe code
//! With `src/crypto/ccmp_mb.rs`, the only module allowed `unsafe` (all of it
//! FFI). Every unsafe block says why it holds; the recurring arguments are:
//! the function pointers have the C signatures of `pcap/pcap.h` (they were
//! resolved by name from a library that is libpcap); a `pcap_t` pointer is
//! non-null, activated or dead as the function needs, and not yet closed
//! (only [`Capture`] and the local handles of [`Libpcap::compile`] hold one,
//! and they close it last); strings passed in are NUL-terminated `CString`s
//! and strings returned are copied before the next libpcap call on the handle.
//! All of it in one file (about 750 lines without tests) by design: every
//! `unsafe` call into libpcap is here, next to the invariant it relies on.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsString, c_char, c_int, c_uint, c_void};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Names libpcap's path; when set it replaces the search (tests point it at
/// a missing file to see the error of a machine without libpcap).
pub const ENV_LIBPCAP: &str = "PLUGSNIFF_LIBPCAP";

/// Tried in order when [`ENV_LIBPCAP`] is unset.
#[cfg(target_os = "macos")]
pub const CANDIDATES: &[&str] = &["/usr/lib/libpcap.A.dylib", "libpcap.dylib"];
/// Tried in order when [`ENV_LIBPCAP`] is unset.
#[cfg(not(target_os = "macos"))]
pub const CANDIDATES: &[&str] = &["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"];

/// What to install, per platform (the runtime package, not the `-dev` one).
pub const INSTALL_HINT: &str = "install it: Debian/Ubuntu `apt install libpcap0.8`, \
     Fedora `dnf install libpcap`, Arch `pacman -S libpcap`, Alpine `apk add libpcap` \
     (macOS ships it)";

/// `PCAP_ERRBUF_SIZE` (pcap/pcap.h).
const ERRBUF_SIZE: usize = 256;
/// `PCAP_ERROR_BREAK`: `pcap_next_ex` after `pcap_breakloop` (pcap/pcap.h).
const ERROR_BREAK: c_int = -2;

/// Status codes of `pcap_activate` (pcap/pcap.h, pcap_activate(3PCAP)).
pub mod status {
    use std::ffi::c_int;
    pub const ERROR: c_int = -1;
    pub const NO_SUCH_DEVICE: c_int = -5;
    pub const RFMON_NOTSUP: c_int = -6;
    pub const PERM_DENIED: c_int = -8;
    pub const IFACE_NOT_UP: c_int = -9;
    pub const PROMISC_PERM_DENIED: c_int = -11;
}

/// `pcap_t`: opaque.
#[repr(C)]
struct PcapT {
    _opaque: [u8; 0],
}

/// `struct bpf_program` (pcap/bpf.h).
#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut c_void,
}

/// `struct pcap_pkthdr` (pcap/pcap.h).
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

/// A header we build for `pcap_offline_filter`, with room after it: some
/// vendors' libpcap builds have extended `struct pcap_pkthdr`, and any read of
/// such an extension then stays inside our object (the filter itself reads
/// only `caplen` and `len`).
#[repr(C)]
struct PktHdrOut {
    hdr: PktHdr,
    _room: [u8; 256],
}

/// `struct pcap_stat` (pcap/pcap.h; the Windows-only fields are absent).
#[repr(C)]
#[derive(Default)]
struct PcapStat {
    ps_recv: c_uint,
    ps_drop: c_uint,
    ps_ifdrop: c_uint,
}

/// Declares the function table and its loader from one list.
macro_rules! pcap_fns {
    ($( $name:ident : fn($($arg:ty),*) $(-> $ret:ty)? ;)*) => {
        /// libpcap's functions used here, resolved by name.
        struct Fns {
            $( $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
        }

        impl Fns {
            /// Resolves every function, or names the first one missing.
            ///
            /// # Safety
            /// `lib` must be libpcap: each symbol is taken to have the C
            /// signature declared for it here (copied from pcap/pcap.h).
            unsafe fn resolve(lib: &libloading::Library) -> Result<Fns, String> {
                Ok(Fns {
                    $( $name: {
                        // SAFETY: the caller guarantees `lib` is libpcap, whose
                        // symbol of this name has this signature; the pointer is
                        // copied out while `lib` is alive and `Libpcap` keeps `lib`
                        // alive as long as the table.
                        let s = unsafe {
                            lib.get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                                concat!(stringify!($name), "\0").as_bytes(),
                            )
                        };
                        *s.map_err(|_| stringify!($name).to_string())?
                    }, )*
                })
            }
        }
    };
}

pcap_fns! {
    pcap_create: fn(*const c_char, *mut c_char) -> *mut PcapT;
    pcap_set_snaplen: fn(*mut PcapT, c_int) -> c_int;
    pcap_set_promisc: fn(*mut PcapT, c_int) -> c_int;
    pcap_set_rfmon: fn(*mut PcapT, c_int) -> c_int;
    pcap_set_timeout: fn(*mut PcapT, c_int) -> c_int;
    pcap_set_buffer_size: fn(*mut PcapT, c_int) -> c_int;
    pcap_set_immediate_mode: fn(*mut PcapT, c_int) -> c_int;
    pcap_activate: fn(*mut PcapT) -> c_int;
    pcap_geterr: fn(*mut PcapT) -> *mut c_char;
    pcap_statustostr: fn(c_int) -> *const c_char;
    pcap_datalink: fn(*mut PcapT) -> c_int;
    pcap_list_datalinks: fn(*mut PcapT, *mut *mut c_int) -> c_int;
    pcap_free_datalinks: fn(*mut c_int);
    pcap_set_datalink: fn(*mut PcapT, c_int) -> c_int;
    pcap_datalink_val_to_name: fn(c_int) -> *const c_char;
    pcap_datalink_val_to_description: fn(c_int) -> *const c_char;
    pcap_compile: fn(*mut PcapT, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
    pcap_setfilter: fn(*mut PcapT, *mut BpfProgram) -> c_int;
    pcap_freecode: fn(*mut BpfProgram);
    pcap_next_ex: fn(*mut PcapT, *mut *mut PktHdr, *mut *const u8) -> c_int;
    pcap_breakloop: fn(*mut PcapT);
    pcap_stats: fn(*mut PcapT, *mut PcapStat) -> c_int;
    pcap_close: fn(*mut PcapT);
    pcap_open_dead: fn(c_int, c_int) -> *mut PcapT;
    pcap_offline_filter: fn(*const BpfProgram, *const PktHdrOut, *const u8) -> c_int;
    pcap_lib_version: fn() -> *const c_char;
}

/// One library tried, and why it did not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub name: String,
    pub error: String,
}

/// libpcap could not be loaded: what was tried, and what to install.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "live capture needs libpcap, which could not be loaded (tried {}); {INSTALL_HINT}",
    self.tried_list()
)]
pub struct LoadError {
    pub tried: Vec<Attempt>,
}

impl LoadError {
    /// `a (why); b (why)`, for messages.
    pub fn tried_list(&self) -> String {
        let v: Vec<String> = self
            .tried
            .iter()
            .map(|a| format!("{}: {}", a.name, a.error))
            .collect();
        v.join("; ")
    }
}

/// libpcap, loaded: the function table and the library that backs it.
pub struct Libpcap {
    fns: Fns,
    /// Which candidate loaded.
    pub path: String,
    /// Keeps the function pointers valid; never dropped for the process's copy.
    _lib: libloading::Library,
}

static LIBPCAP: OnceLock<Result<Libpcap, LoadError>> = OnceLock::new();

/// Serialises `pcap_compile`: it is thread-safe only since libpcap 1.8.0
/// (pcap_compile(3PCAP)), and older ones are still shipped (libpcap 1.5 is
/// the oldest with every function used here).
static COMPILE_LOCK: Mutex<()> = Mutex::new(());

impl Libpcap {
    /// The process's libpcap, loaded on first use from [`ENV_LIBPCAP`] or
    /// [`CANDIDATES`]; the outcome (either way) is kept for the process.
    pub fn get() -> Result<&'static Libpcap, LoadError> {
        LIBPCAP
            .get_or_init(|| {
                let candidates: Vec<OsString> = match std::env::var_os(ENV_LIBPCAP) {
                    Some(p) if !p.is_empty() => vec![p],
                    _ => CANDIDATES.iter().map(OsString::from).collect(),
                };
                let r = Libpcap::load(&candidates);
                match &r {
                    Ok(l) => tracing::debug!("loaded {} from {}", l.version(), l.path),
                    Err(e) => tracing::debug!("libpcap not loaded: {}", e.tried_list()),
                }
                r
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Loads the first of `candidates` that is a usable libpcap.
    pub fn load(candidates: &[OsString]) -> Result<Libpcap, LoadError> {
        let mut tried = Vec::new();
        for c in candidates {
            let name = c.to_string_lossy().into_owned();
            // SAFETY: loading runs the library's initialisers. The candidates
            // are libpcap's own file names (or a path the operator named in
            // PLUGSNIFF_LIBPCAP); libpcap's initialisers only set up its tables.
            let lib = match unsafe { libloading::Library::new(c) } {
                Ok(l) => l,
                Err(e) => {
                    // dlerror() usually starts with the name itself.
                    let e = e.to_string();
                    let error = match e.strip_prefix(&name).and_then(|r| r.strip_prefix(": ")) {
                        Some(rest) => rest.to_string(),
                        None => e,
                    };
                    tried.push(Attempt { name, error });
                    continue;
                }
            };
            // SAFETY: a library that loaded under one of libpcap's names is
            // taken to be libpcap (the same trust as linking against it);
            // `resolve` fails on any missing symbol.
            match unsafe { Fns::resolve(&lib) } {
                Ok(fns) => {
                    return Ok(Libpcap {
                        fns,
                        path: name,
                        _lib: lib,
                    });
                }
                Err(missing) => tried.push(Attempt {
                    name,
                    error: format!(
                        "loaded, but it has no {missing} (plugsniff needs libpcap 1.5 or later)"
                    ),
                }),
            }
        }
        Err(LoadError { tried })
    }

    /// `pcap_lib_version()`: "libpcap version 1.10.3 (with TPACKET_V3)".
    pub fn version(&self) -> String {
        // SAFETY: pcap_lib_version takes nothing and returns a static string
        // (or, defensively, null, which `cstr` handles).
        unsafe { cstr((self.fns.pcap_lib_version)()) }.unwrap_or_default()
    }

    /// libpcap's name for a link type ("EN10MB"), if it knows it.
    pub fn datalink_name(&self, dlt: i32) -> Option<String> {
        // SAFETY: returns a static string or null for an unknown value.
        unsafe { cstr((self.fns.pcap_datalink_val_to_name)(dlt)) }
    }

    /// libpcap's description of a link type ("Ethernet"), if it knows it.
    pub fn datalink_description(&self, dlt: i32) -> Option<String> {
        // SAFETY: returns a static string or null for an unknown value.
        unsafe { cstr((self.fns.pcap_datalink_val_to_description)(dlt)) }
    }

    /// `pcap_statustostr`: text for a status code of `pcap_activate`.
    fn status_text(&self, code: c_int) -> String {
        // SAFETY: returns a static string (for a code libpcap does not know,
        // a static buffer; the codes passed here come from libpcap itself).
        unsafe { cstr((self.fns.pcap_statustostr)(code)) }.unwrap_or_else(|| code.to_string())
    }

    /// `pcap_geterr`, copied. `p` must be a live handle of this library.
    fn geterr(&self, p: NonNull<PcapT>) -> String {
        // SAFETY: `p` is an open handle (caller); the error buffer it returns
        // lives in the handle and is copied before any other call on it.
        unsafe { cstr((self.fns.pcap_geterr)(p.as_ptr())) }.unwrap_or_default()
    }

    /// Opens and activates a live capture on `device`.
    pub fn open_live(
        &'static self,
        device: &str,
        s: &Settings,
    ) -> Result<(Capture, Vec<String>), OpenError> {
        let f = &self.fns;
        let dev = CString::new(device).map_err(|_| OpenError {
            status: status::ERROR,
            status_text: "invalid device name".into(),
            detail: "the name contains a NUL byte".into(),
        })?;
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `dev` is NUL-terminated; `errbuf` has PCAP_ERRBUF_SIZE bytes
        // as pcap_create(3PCAP) requires.
        let p = unsafe { (f.pcap_create)(dev.as_ptr(), errbuf.as_mut_ptr()) };
        let Some(p) = NonNull::new(p) else {
            // SAFETY: on failure libpcap wrote a NUL-terminated message into
            // `errbuf`; its last byte is still the 0 we put there at most.
            let detail = unsafe { cstr(errbuf.as_ptr()) }.unwrap_or_default();
            return Err(OpenError {
                status: status::ERROR,
                status_text: "pcap_create failed".into(),
                detail,
            });
        };
        // From here `cap` owns `p` and closes it on any early return.
        let cap = Capture::new(self, p);
        let pp = p.as_ptr();
        // SAFETY: `pp` is a created, not yet activated handle; these setters
        // take plain integers and only fail (PCAP_ERROR_ACTIVATED) on an
        // activated handle.
        let set = unsafe {
            [
                (f.pcap_set_snaplen)(pp, s.snaplen),
                (f.pcap_set_buffer_size)(pp, s.buffer_size),
                (f.pcap_set_immediate_mode)(pp, c_int::from(s.immediate)),
                (f.pcap_set_timeout)(pp, s.timeout_ms),
                (f.pcap_set_promisc)(pp, c_int::from(s.promisc)),
                (f.pcap_set_rfmon)(pp, c_int::from(s.rfmon)),
            ]
        };
        if let Some(&code) = set.iter().find(|&&c| c != 0) {
            return Err(OpenError {
                status: code,
                status_text: self.status_text(code),
                detail: self.geterr(p),
            });
        }
        // SAFETY: `pp` is a created handle, activated once.
        let code = unsafe { (f.pcap_activate)(pp) };
        let mut warnings = Vec::new();
        if code < 0 {
            return Err(OpenError {
                status: code,
                status_text: self.status_text(code),
                detail: self.geterr(p),
            });
        } else if code > 0 {
            let detail = self.geterr(p);
            let text = self.status_text(code);
            warnings.push(if detail.is_empty() {
                text
            } else {
                format!("{text}: {detail}")
            });
        }
        Ok((cap, warnings))
    }

    /// Compiles `expr` for frames of link type `dlt` captured with `snaplen`
    /// (optimised, netmask 0 as tcpdump uses when it does not know one).
    pub fn compile(&'static self, expr: &str, dlt: i32, snaplen: i32) -> Result<Program, String> {
        let f = &self.fns;
        let cexpr = CString::new(expr).map_err(|_| "the expression contains a NUL byte")?;
        // SAFETY: pcap_open_dead takes two integers and returns a new handle
        // or null.
        let p = NonNull::new(unsafe { (f.pcap_open_dead)(dlt, snaplen) })
            .ok_or("pcap_open_dead failed")?;
        let mut prog = BpfProgram {
            bf_len: 0,
            bf_insns: std::ptr::null_mut(),
        };
        let rc = {
            let _g = COMPILE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: `p` is an open (dead) handle, `prog` a valid out-struct,
            // `cexpr` NUL-terminated; calls are serialised by COMPILE_LOCK.
            unsafe { (f.pcap_compile)(p.as_ptr(), &mut prog, cexpr.as_ptr(), 1, 0) }
        };
        let r = if rc == 0 {
            Ok(Program { prog, lib: self })
        } else {
            Err(self.geterr(p))
        };
        // SAFETY: `p` was opened above and is closed once; `prog` does not
        // refer to it (the instructions are a separate allocation).
        unsafe { (f.pcap_close)(p.as_ptr()) };
        r
    }
}

/// Copies a C string; `None` for null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for this call.
unsafe fn cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (caller).
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Options of a live capture, set before activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub snaplen: c_int,
    pub buffer_size: c_int,
    pub immediate: bool,
    /// Packet buffer timeout. A read with nothing captured returns
    /// [`Read::Timeout`] after it on macOS and the BSDs; on Linux it keeps
    /// waiting until a packet or a break (pcap_breakloop(3PCAP)).
    pub timeout_ms: c_int,
    pub promisc: bool,
    pub rfmon: bool,
}

/// `pcap_create`/`pcap_activate` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    /// The `PCAP_ERROR_*` code ([`status`]).
    pub status: c_int,
    /// `pcap_statustostr(status)`.
    pub status_text: String,
    /// `pcap_geterr`, often empty for the specific codes.
    pub detail: String,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // For the specific codes libpcap often repeats the status text as
        // the detail ("No such device exists"), or leaves it empty.
        if self.detail.is_empty() || self.detail == self.status_text {
            f.write_str(&self.status_text)
        } else if self.status_text.is_empty() {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}: {}", self.status_text, self.detail)
        }
    }
}

/// A `pcap_t` that a [`BreakHandle`] may reach from another thread.
struct SharedPtr(NonNull<PcapT>);

// SAFETY: the pointer is only ever used, from the thread that holds the
// mutex guarding it, for `pcap_breakloop`, which pcap_breakloop(3PCAP) says is
// safe "in a thread other than the one in which the loop is running".
unsafe impl Send for SharedPtr {}

/// An activated live capture; `pcap_close` on drop.
pub struct Capture {
    lib: &'static Libpcap,
    p: NonNull<PcapT>,
    /// What [`BreakHandle`]s see: `Some(p)` until this capture is dropped.
    shared: Arc<Mutex<Option<SharedPtr>>>,
}

// SAFETY: `Capture` owns the whole lifetime of its `pcap_t` (created in
// `open_live`, closed in `drop`), and libpcap keeps no thread affinity for a
// handle, so moving it to another thread (the capture thread) is sound. It is
// deliberately not `Sync` (the raw pointer field keeps it so): libpcap does
// not promise that two threads may call it on one `pcap_t` at once.
unsafe impl Send for Capture {}

/// What one read returned.
pub enum Read<'a> {
    Packet {
        /// Seconds and microseconds since the epoch (`struct timeval`).
        ts_sec: i64,
        ts_usec: i64,
        /// Length on the wire (`len`); `data.len()` is `caplen`.
        orig_len: u32,
        data: &'a [u8],
    },
    /// The packet buffer timeout expired with nothing captured.
    Timeout,
    /// [`BreakHandle::stop`] was called.
    Break,
}

/// libpcap's counters (`struct pcap_stat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
}

impl Capture {
    fn new(lib: &'static Libpcap, p: NonNull<PcapT>) -> Capture {
        Capture {
            lib,
            p,
            shared: Arc::new(Mutex::new(Some(SharedPtr(p)))),
        }
    }

    /// `pcap_geterr` of this handle.
    fn err(&self) -> String {
        self.lib.geterr(self.p)
    }

    /// The current link type (`pcap_datalink`).
    pub fn datalink(&self) -> i32 {
        // SAFETY: `self.p` is open and activated for the life of `self`.
        unsafe { (self.lib.fns.pcap_datalink)(self.p.as_ptr()) }
    }

    /// The link types the device offers (`pcap_list_datalinks`).
    pub fn list_datalinks(&self) -> Result<Vec<i32>, String> {
        let mut list: *mut c_int = std::ptr::null_mut();
        // SAFETY: `self.p` is open and activated; `list` is an out-pointer.
        let n = unsafe { (self.lib.fns.pcap_list_datalinks)(self.p.as_ptr(), &mut list) };
        if n < 0 || list.is_null() {
            return Err(self.err());
        }
        // SAFETY: on success libpcap allocated `n` ints at `list` (n ≥ 0,
        // checked), which we copy and then free with pcap_free_datalinks once.
        let v = unsafe { std::slice::from_raw_parts(list, n as usize) }.to_vec();
        // SAFETY: `list` came from pcap_list_datalinks and is freed once.
        unsafe { (self.lib.fns.pcap_free_datalinks)(list) };
        Ok(v)
    }

    /// Switches the link type (`pcap_set_datalink`).
    pub fn set_datalink(&mut self, dlt: i32) -> Result<(), String> {
        // SAFETY: `self.p` is open and activated.
        match unsafe { (self.lib.fns.pcap_set_datalink)(self.p.as_ptr(), dlt) } {
            0 => Ok(()),
            _ => Err(self.err()),
        }
    }

    /// Compiles `expr` for this handle (its link type and snap length) and
    /// installs it (in the kernel where the platform can).
    pub fn set_filter(&mut self, expr: &str) -> Result<(), String> {
        let cexpr = CString::new(expr).map_err(|_| "the expression contains a NUL byte")?;
        let mut prog = BpfProgram {
            bf_len: 0,
            bf_insns: std::ptr::null_mut(),
        };
        let rc = {
            let _g = COMPILE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
            // SAFETY: `self.p` is activated; `prog` a valid out-struct; the
            // expression NUL-terminated; serialised by COMPILE_LOCK.
            unsafe { (self.lib.fns.pcap_compile)(self.p.as_ptr(), &mut prog, cexpr.as_ptr(), 1, 0) }
        };
        if rc != 0 {
            return Err(self.err());
        }
        let mut prog = Program {
            prog,
            lib: self.lib,
        };
        // SAFETY: `self.p` is activated and `prog` compiled. The handle keeps
        // its own copy: pcap_freecode(3PCAP) names "after it has been made the
        // filter program ... by pcap_setfilter" as when to free it, as below.
        let rc = unsafe { (self.lib.fns.pcap_setfilter)(self.p.as_ptr(), &mut prog.prog) };
        drop(prog);
        match rc {
            0 => Ok(()),
            _ => Err(self.err()),
        }
    }

    /// The next frame, a timeout, or a break. The frame borrows libpcap's
    /// buffer until the next call.
    // time_t and suseconds_t are i64 on 64-bit Linux only.
    #[allow(clippy::useless_conversion)]
    pub fn next_packet(&mut self) -> Result<Read<'_>, String> {
        let mut hdr: *mut PktHdr = std::ptr::null_mut();
        let mut data: *const u8 = std::ptr::null();
        // SAFETY: `self.p` is activated; both out-pointers are valid.
        let rc = unsafe { (self.lib.fns.pcap_next_ex)(self.p.as_ptr(), &mut hdr, &mut data) };
        match rc {
            1 if !hdr.is_null() && !data.is_null() => {
                // SAFETY: on 1, `hdr` points to libpcap's header for this packet
                // and `data` to `caplen` bytes, both valid until the next call
                // on the handle; the `&mut self` borrow of the returned slice
                // keeps that call from happening while the slice lives.
                let (h, data) = unsafe {
                    let h = &*hdr;
                    (h, std::slice::from_raw_parts(data, h.caplen as usize))
                };
                Ok(Read::Packet {
                    ts_sec: i64::from(h.ts.tv_sec),
                    ts_usec: i64::from(h.ts.tv_usec),
                    orig_len: h.len,
                    data,
                })
            }
            1 => Err("pcap_next_ex returned a packet without data".into()),
            0 => Ok(Read::Timeout),
            ERROR_BREAK => Ok(Read::Break),
            _ => Err(self.err()),
        }
    }

    /// `pcap_stats`.
    pub fn stats(&mut self) -> Result<Stats, String> {
        let mut s = PcapStat::default();
        // SAFETY: `self.p` is activated; `s` is a valid out-struct.
        match unsafe { (self.lib.fns.pcap_stats)(self.p.as_ptr(), &mut s) } {
            0 => Ok(Stats {
                received: s.ps_recv,
                dropped: s.ps_drop,
                if_dropped: s.ps_ifdrop,
            }),
            _ => Err(self.err()),
        }
    }

    /// A handle that stops a blocked [`Capture::next_packet`] from another thread.
    pub fn break_handle(&self) -> BreakHandle {
        BreakHandle {
            lib: self.lib,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Break handles must not reach the pointer once it is closed: clear it
        // under the mutex (waiting for a `stop` in progress), then close.
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // SAFETY: `self.p` was opened by `open_live`, is closed exactly once
        // here, and no break handle can use it any more (cleared above).
        unsafe { (self.lib.fns.pcap_close)(self.p.as_ptr()) };
    }
}

/// Calls `pcap_breakloop` on its capture, if that capture is still open.
/// Usable from any thread (not from a signal handler: it takes a mutex).
#[derive(Clone)]
pub struct BreakHandle {
    lib: &'static Libpcap,
    shared: Arc<Mutex<Option<SharedPtr>>>,
}

impl BreakHandle {
    /// Makes the capture's current or next read return [`Read::Break`]
    /// (waking a blocked read on Linux, per pcap_breakloop(3PCAP)); does
    /// nothing once the capture is dropped.
    pub fn stop(&self) {
        let g = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = g.as_ref() {
            // SAFETY: `p` is open: `Capture::drop` clears it under this mutex
            // before closing, and we hold the mutex. pcap_breakloop may be
            // called from a thread other than the reading one.
            unsafe { (self.lib.fns.pcap_breakloop)(p.0.as_ptr()) };
        }
    }
}

/// A compiled BPF program; `pcap_freecode` on drop.
pub struct Program {
    prog: BpfProgram,
    lib: &'static Libpcap,
}

// SAFETY: the program is an instruction array libpcap allocated for us alone
// (no handle refers to it); moving its ownership between threads is sound.
// Not `Sync`: nothing needs it, and matching takes `&self` only for brevity.
unsafe impl Send for Program {}

impl Program {
    /// Whether a frame passes (`pcap_offline_filter`): `data` is what was
    /// captured, `orig_len` its length on the wire.
    pub fn matches(&self, orig_len: u32, data: &[u8]) -> bool {
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let h = PktHdrOut {
            hdr: PktHdr {
                ts: libc::timeval {
                    tv_sec: 0,
                    tv_usec: 0,
                },
                caplen,
                len: orig_len.max(caplen),
            },
            _room: [0; 256],
        };
        // SAFETY: `self.prog` is a program pcap_compile produced and not yet
        // freed; `h` a valid header whose caplen is no more than `data.len()`;
        // `data` valid for reads of that length. The BPF interpreter checks
        // every load against caplen.
        unsafe { (self.lib.fns.pcap_offline_filter)(&self.prog, &h, data.as_ptr()) != 0 }
    }

    /// Instructions in the program.
    pub fn len(&self) -> usize {
        self.prog.bf_len as usize
    }

    /// Never true for a compiled program (one `ret` at least).
    pub fn is_empty(&self) -> bool {
        self.prog.bf_len == 0
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program came from pcap_compile and is freed once.
        unsafe { (self.lib.fns.pcap_freecode)(&mut self.prog) };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The machine's libpcap, or `None` with a message (a failure under CI,
    /// whose script installs it).
    pub(crate) fn libpcap_or_skip() -> Option<&'static Libpcap> {
        match Libpcap::get() {
            Ok(l) => Some(l),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but libpcap is missing: {e}")
            }
            Err(e) => {
                eprintln!("SKIP: {e}");
                None
            }
        }
    }

    #[test]
    fn missing_library_lists_what_was_tried_and_the_package() {
        let e = Libpcap::load(&[
            "/nonexistent/libpcap.so".into(),
            "libnosuchpcap.so.9".into(),
        ])
        .err()
        .expect("no such library");
        assert_eq!(e.tried.len(), 2);
        let m = e.to_string();
        assert!(m.starts_with("live capture needs libpcap"), "{m}");
        assert!(m.contains("/nonexistent/libpcap.so: "), "{m}");
        assert!(m.contains("libnosuchpcap.so.9: "), "{m}");
        for pkg in [
            "libpcap0.8",
            "dnf install libpcap",
            "pacman -S libpcap",
            "apk add libpcap",
        ] {
            assert!(m.contains(pkg), "{pkg} missing in {m}");
        }
    }

    #[test]
    fn a_library_that_is_not_libpcap_is_passed_over() {
        // libc loads, but has no pcap_create.
        let libc_name: OsString = if cfg!(target_os = "macos") {
            "/usr/lib/libSystem.B.dylib".into()
        } else {
            "libc.so.6".into()
        };
        let e = Libpcap::load(&[libc_name])
            .err()
            .expect("libc is not libpcap");
        assert_eq!(e.tried.len(), 1);
        assert!(
            e.tried[0].error.contains("has no pcap_create"),
            "{:?}",
            e.tried
        );
    }

    #[test]
    fn loads_the_system_libpcap() {
        let Some(l) = libpcap_or_skip() else { return };
        assert!(
            l.version().starts_with("libpcap version"),
            "{}",
            l.version()
        );
        assert_eq!(l.datalink_name(1).as_deref(), Some("EN10MB"));
        assert_eq!(l.datalink_name(127).as_deref(), Some("IEEE802_11_RADIO"));
        assert_eq!(l.datalink_description(1).as_deref(), Some("Ethernet"));
        assert_eq!(l.datalink_name(-77), None);
    }

    #[test]
    fn compile_errors_carry_libpcap_text() {
        let Some(l) = libpcap_or_skip() else { return };
        let e = l.compile("garbage((", 1, 65535).err().expect("not BPF");
        assert!(e.contains("syntax error"), "{e}");
        let e = l.compile("tcp\0", 1, 65535).err().expect("NUL");
        assert!(e.contains("NUL"), "{e}");
        let p = l.compile("tcp", 1, 65535).expect("valid");
        assert!(!p.is_empty());
        // A program survives a move to another thread (Send) and is freed there.
        std::thread::spawn(move || drop(p)).join().unwrap();
    }

    /// A live capture on loopback, read on its own thread (a `Capture` is
    /// `Send`): a break from this thread wakes the blocked read, and a handle
    /// that outlives its capture is harmless. On Linux an idle read does not
    /// return on its timeout, so without the break the read would never end:
    /// the watchdog turns that into a failure instead of a hung test (a
    /// liveness bound, not a timing measurement). Needs root (CAP_NET_RAW);
    /// CI runs as root.
    #[test]
    fn break_handle_wakes_a_blocked_read_and_outlives_its_capture() {
        use std::sync::mpsc;
        use std::time::Duration;
        let Some(l) = libpcap_or_skip() else { return };
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIP: live capture on lo needs root");
            return;
        }
        let s = Settings {
            snaplen: 256,
            buffer_size: 1 << 20,
            immediate: true,
            timeout_ms: 100,
            promisc: false,
            rfmon: false,
        };
        let (mut cap, _warnings) = l.open_live("lo", &s).expect("open lo");
        // Nothing loopback carries passes this filter (an unassigned EtherType).
        cap.set_filter("ether proto 0x88b5").expect("filter");
        let b = cap.break_handle();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Timeouts (macOS, BSDs) are not what we wait for.
            let outcome = loop {
                match cap.next_packet() {
                    Ok(Read::Timeout) => continue,
                    Ok(Read::Break) => break "break",
                    Ok(Read::Packet { .. }) => break "packet",
                    Err(_) => break "error",
                }
            };
            let stats = cap.stats().is_ok();
            let _ = tx.send((outcome, stats, cap));
        });
        std::thread::sleep(Duration::from_millis(200));
        b.stop();
        let (outcome, stats, cap) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the break did not wake the read");
        assert_eq!(outcome, "break");
        assert!(stats);
        drop(cap);
        b.stop(); // the capture is closed: nothing happens
    }
}
