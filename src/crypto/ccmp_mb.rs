//! Multi-buffer CCMP-128 decryption: many MPDUs at once, each verified.
//!
//! CCM's CBC-MAC is a serial chain (every block waits for the previous AES),
//! so one frame at a time keeps the AES units mostly idle. This module decrypts
//! a *batch* of independent frames and interleaves their chains: at every step
//! each lane (one frame) runs one CBC-MAC block and one CTR keystream block, so
//! 16 (AES-NI, 8 lanes) or 32 (VAES-512, 16 lanes) independent AES blocks are in
//! flight per round. Lanes may use different keys (round keys are per lane) and
//! frames of different lengths (a batch is sorted by length and cut into groups
//! of similar frames; a lane that is done idles until its group ends).
//!
//! The result of every job is exactly what [`crate::crypto::ccmp::CcmpKey::decrypt`]
//! returns for the same frame: the same [`CcmpHdr`] or [`CcmpError`], the same
//! plaintext in `out`, `out` empty on any error. The property tests below check
//! this against the `ccm` crate over random keys, lengths, header layouts and
//! tampering; `tests/ccmp_mb_captures.rs` does it on the real captures.
//!
//! # Why one file of ~1 000 lines
//! The three backends share the job layout, the sorting into groups and the
//! per-lane bookkeeping, and every `unsafe` block of the kernel is here, next to
//! the invariant it relies on: splitting them would put the SAFETY arguments
//! away from the code they justify.
//!
//! # Backends
//! Chosen at run time ([`Backend::detect`]); no `target-cpu` flags are needed:
//! - [`Backend::Vaes512`]: `avx512f` + `vaes`, 16 lanes in four ZMM registers;
//! - [`Backend::AesNi`]: `aes` + `sse4.1`, 8 lanes in XMM registers;
//! - [`Backend::Portable`]: the `ccm` crate, one frame at a time (any CPU).
//!
//! # Unsafe code
//! This is the only module of the crate allowed `unsafe`: the x86-64 intrinsics
//! (`core::arch`) are `unsafe fn`s that must only run on a CPU with the features
//! they were compiled for. Every unsafe block says why it holds. Memory is
//! touched through `&[u8; 16]` / `&mut [u8; 16]` references (the unaligned
//! load/store helpers), except in the steady phase of a kernel (below): there
//! each lane's ciphertext and output are read and written through raw pointers
//! at offset `16 * j`, with `j` below a bound computed once per group from the
//! lanes' lengths (every lane has block `j` whole and not last). Prefetch
//! hints take addresses inside the frames, or `wrapping_add` ones (a prefetch
//! never faults). B0, the AAD blocks and A0 are built in SSE2 registers from
//! the first 32 bytes of the frame (`x86::head_blocks`), checked against the
//! byte-wise reference built from [`ccmp::aad_and_nonce`] in debug builds.
//!
//! # Phases
//! A group (up to 8 or 16 lanes) runs `3 + nblocks` steps of its longest lane,
//! in three loops:
//! - head (steps 0..3): B0 and the two AAD blocks into the CBC-MAC, counters
//!   0..3 (counter 0 is the tag mask S0);
//! - steady: payload block `j` for `j < min(nblocks - 1)` over the group, so
//!   every lane has a whole block and none finishes: no per-lane branch, the
//!   keystream stays in registers and the plaintext (ciphertext ^ keystream,
//!   computed in a register) is both stored and fed to the CBC-MAC;
//! - tail: the remaining steps lane by lane, through small buffers: partial
//!   last blocks, lanes already done (zero input, result ignored), and the
//!   MAC of each lane taken right after its last block.
//!
//! A short group (fewer lanes than the width) fills its spare slots with lane
//! 0 (same key, counter, ciphertext, output), so the loops never test for them.
//!
//! CCM reference: RFC 3610 / NIST SP 800-38C, with M = 8, L = 2 and the 13-byte
//! nonce and AAD of IEEE 802.11-2020 12.5.3.3 ([`ccmp::aad_and_nonce`]).
#![allow(unsafe_code)]

use crate::crypto::ccmp::{self, CCMP_MIC_LEN, CcmpError, CcmpHdr, CcmpKey};

/// Frames interleaved by the AES-NI backend.
pub const LANES_AESNI: usize = 8;
/// Frames interleaved by the VAES-512 backend.
pub const LANES_VAES: usize = 16;

/// Which implementation runs a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The `ccm` crate, frame by frame.
    Portable,
    /// AES-NI, 8 frames interleaved.
    AesNi,
    /// VAES with AVX-512, 16 frames interleaved.
    Vaes512,
}

impl Backend {
    /// The fastest backend this CPU supports.
    pub fn detect() -> Backend {
        #[cfg(target_arch = "x86_64")]
        {
            if cfg!(plugsniff_avx512)
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("vaes")
                && std::is_x86_feature_detected!("aes")
                && std::is_x86_feature_detected!("sse4.1")
            {
                return Backend::Vaes512;
            }
            if std::is_x86_feature_detected!("aes") && std::is_x86_feature_detected!("sse4.1") {
                return Backend::AesNi;
            }
        }
        Backend::Portable
    }

    /// Whether this CPU can run `self` (the portable backend always can).
    pub fn supported(self) -> bool {
        match self {
            Backend::Portable => true,
            Backend::AesNi => matches!(Backend::detect(), Backend::AesNi | Backend::Vaes512),
            Backend::Vaes512 => Backend::detect() == Backend::Vaes512,
        }
    }

    /// Every backend this CPU can run, slowest first.
    pub fn available() -> Vec<Backend> {
        [Backend::Portable, Backend::AesNi, Backend::Vaes512]
            .into_iter()
            .filter(|b| b.supported())
            .collect()
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable (ccm crate)",
            Backend::AesNi => "aes-ni x8",
            Backend::Vaes512 => "vaes-512 x16",
        }
    }
}

/// A CCMP-128 key prepared for every backend: the `ccm` crate's key (portable
/// path) and the expanded AES-128 round keys (SIMD paths). Expand it once per
/// temporal key, not per frame.
#[derive(Clone)]
pub struct MbKey {
    ccm: CcmpKey,
    /// AES-128 encryption round keys; all zero when the CPU has no AES-NI
    /// (the SIMD backends are then never selected).
    rk: [[u8; 16]; 11],
}

impl MbKey {
    pub fn new(tk: &[u8; 16]) -> MbKey {
        let mut rk = [[0u8; 16]; 11];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("aes") && std::is_x86_feature_detected!("sse4.1") {
            // SAFETY: `aes` and `sse4.1` were detected on this CPU just above.
            rk = unsafe { x86::expand_key(tk) };
        }
        MbKey {
            ccm: CcmpKey::new(tk),
            rk,
        }
    }

    /// One frame with the `ccm` crate; same contract as [`CcmpKey::decrypt`].
    pub fn decrypt(
        &self,
        frame: &[u8],
        hdr_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<CcmpHdr, CcmpError> {
        self.ccm.decrypt(frame, hdr_len, out)
    }
}

impl Drop for MbKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.rk);
    }
}

impl std::fmt::Debug for MbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MbKey(<redacted>)")
    }
}

/// One frame to decrypt: the whole MPDU without FCS, its MAC header length
/// (as for [`ccmp::decrypt`]), the key to try, and where the plaintext goes
/// (capacity reused): after the first `keep` bytes already in `out`, which
/// stay (a caller puts the output record's header there, so the plaintext
/// lands behind it and is never copied again); the rest is cleared first.
pub struct Job<'a> {
    pub key: &'a MbKey,
    pub frame: &'a [u8],
    pub hdr_len: usize,
    /// Bytes at the start of `out` to keep (clamped to its length).
    pub keep: usize,
    pub out: &'a mut Vec<u8>,
}

/// Decrypts and verifies every job with the fastest backend of this CPU.
/// `results[i]` is the outcome of `jobs[i]`, exactly as
/// [`CcmpKey::decrypt`] would give it: on success `jobs[i].out` is its
/// `keep` bytes followed by the plaintext; on an error it is empty.
///
/// # Panics
/// If `results` is shorter than `jobs`.
pub fn decrypt_batch(jobs: &mut [Job<'_>], results: &mut [Result<CcmpHdr, CcmpError>]) {
    decrypt_batch_with(Backend::detect(), jobs, results);
}

/// [`decrypt_batch`] with a chosen backend (tests and benchmarks). A backend
/// this CPU cannot run falls back to the portable one.
///
/// # Panics
/// If `results` is shorter than `jobs`.
pub fn decrypt_batch_with(
    backend: Backend,
    jobs: &mut [Job<'_>],
    results: &mut [Result<CcmpHdr, CcmpError>],
) {
    assert!(results.len() >= jobs.len(), "results shorter than jobs");
    let backend = if backend.supported() {
        backend
    } else {
        Backend::Portable
    };
    if backend == Backend::Portable {
        for (j, r) in jobs.iter_mut().zip(results.iter_mut()) {
            j.out.truncate(j.keep);
            *r = j.key.ccm.decrypt_append(j.frame, j.hdr_len, j.out);
            if r.is_err() {
                j.out.clear();
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Frames come from memory a batch at a time: ask at once for the
        // lines `prepare` reads (the headers and the MIC).
        for j in jobs.iter() {
            x86::prefetch_ends(j.frame);
        }
        let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(jobs.len());
        for (i, j) in jobs.iter_mut().enumerate() {
            match Lane::prepare(i, j) {
                Ok(l) => lanes.push(l),
                Err(e) => results[i] = Err(e),
            }
        }
        // Similar lengths side by side, so a group's lanes finish together.
        lanes.sort_unstable_by_key(|l| l.nblocks);
        let width = if backend == Backend::Vaes512 {
            LANES_VAES
        } else {
            LANES_AESNI
        };
        let mut ok = [false; LANES_VAES];
        for start in (0..lanes.len()).step_by(width) {
            // The next group's first lines, while this one runs (the kernels
            // prefetch ahead within a group).
            for l in lanes.iter().skip(start + width).take(width) {
                x86::prefetch(l.ct, 0, x86::PREFETCH_AHEAD);
            }
            let end = (start + width).min(lanes.len());
            let group = &mut lanes[start..end];
            let ok = &mut ok[..group.len()];
            match backend {
                // SAFETY: `supported()` confirmed avx512f, vaes, aes and sse4.1
                // (and that this backend was compiled in).
                #[cfg(plugsniff_avx512)]
                Backend::Vaes512 => unsafe { x86::ccm_vaes(group, ok) },
                // SAFETY: `supported()` confirmed aes and sse4.1.
                _ => unsafe { x86::ccm_aesni(group, ok) },
            }
            for (l, &good) in group.iter().zip(ok.iter()) {
                results[l.job] = if good {
                    Ok(l.hdr)
                } else {
                    Err(CcmpError::MicFailure)
                };
            }
        }
        drop(lanes);
        for (j, r) in jobs.iter_mut().zip(results.iter()) {
            if r.is_err() {
                j.out.clear();
            }
        }
    }
}

/// One frame ready for a SIMD backend: the CCM blocks that do not depend on
/// the payload, the ciphertext, and the output slice (already sized).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Lane<'a> {
    job: usize,
    hdr: CcmpHdr,
    rk: &'a [[u8; 16]; 11],
    ct: &'a [u8],
    out: &'a mut [u8],
    /// B0, then the AAD (2-byte length + AAD, zero-padded: always 2 blocks,
    /// as the 802.11 AAD is 22 to 30 bytes).
    head: [[u8; 16]; 3],
    /// Counter block A0 (flags 0x01, nonce, counter 0).
    a0: [u8; 16],
    tag: [u8; CCMP_MIC_LEN],
    /// Payload blocks, the last one possibly partial.
    nblocks: usize,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl<'a> Lane<'a> {
    /// The checks of [`CcmpKey::decrypt`], in the same order, then the
    /// payload-independent blocks.
    fn prepare(job: usize, j: &'a mut Job<'_>) -> Result<Lane<'a>, CcmpError> {
        let keep = j.keep.min(j.out.len());
        let frame = j.frame;
        let hdr_len = j.hdr_len;
        let (hdr, ct, tag) = ccmp::split_mpdu(frame, hdr_len)?;
        #[cfg(target_arch = "x86_64")]
        let (head, a0) = x86::head_blocks(frame, hdr.pn, ct.len())
            .unwrap_or_else(|| head_blocks(frame, hdr_len, hdr.pn, ct.len()));
        #[cfg(not(target_arch = "x86_64"))]
        let (head, a0) = head_blocks(frame, hdr_len, hdr.pn, ct.len());
        #[cfg(target_arch = "x86_64")]
        debug_assert_eq!((head, a0), head_blocks(frame, hdr_len, hdr.pn, ct.len()));

        // Every plaintext byte is written by the kernel (or the whole output
        // cleared on a MIC failure), so a recycled buffer's old bytes need
        // not be zeroed first: only growth is.
        let need = keep + ct.len();
        if j.out.len() < need {
            j.out.resize(need, 0);
        } else {
            j.out.truncate(need);
        }
        Ok(Lane {
            job,
            hdr,
            rk: &j.key.rk,
            ct,
            out: &mut j.out[keep..],
            head,
            a0,
            tag,
            nblocks: ct.len().div_ceil(16),
        })
    }
}

/// B0, the two AAD blocks and A0 of a frame that passed the checks of
/// [`Lane::prepare`], from [`ccmp::aad_and_nonce`] (the reference the SIMD
/// version, `x86::head_blocks`, is checked against in debug builds).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn head_blocks(frame: &[u8], hdr_len: usize, pn: u64, ct_len: usize) -> ([[u8; 16]; 3], [u8; 16]) {
    let (aad, nonce) = ccmp::aad_and_nonce(frame, hdr_len, pn);
    let aad = aad.as_bytes();
    let mut head = [[0u8; 16]; 3];
    // B0: flags = Adata (0x40) | M' = (8-2)/2 << 3 | L' = 2-1 (RFC 3610 2.2).
    head[0][0] = 0x59;
    head[0][1..14].copy_from_slice(&nonce);
    head[0][14..16].copy_from_slice(&(ct_len as u16).to_be_bytes());
    let mut a = [0u8; 32];
    a[..2].copy_from_slice(&(aad.len() as u16).to_be_bytes());
    let n = aad.len().min(30);
    a[2..2 + n].copy_from_slice(&aad[..n]);
    head[1].copy_from_slice(&a[..16]);
    head[2].copy_from_slice(&a[16..]);
    let mut a0 = [0u8; 16];
    a0[0] = 0x01;
    a0[1..14].copy_from_slice(&nonce);
    (head, a0)
}

/// Constant-time comparison of the computed and received MIC.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn mic_eq(t: &[u8; 16], s0: &[u8; 16], tag: &[u8; CCMP_MIC_LEN]) -> bool {
    let mut d = 0u8;
    for i in 0..CCMP_MIC_LEN {
        d |= t[i] ^ s0[i] ^ tag[i];
    }
    d == 0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The SIMD backends. Both run the same schedule per lane, one step per
    //! CCM block:
    //!
    //! ```text
    //! step k:  CBC-MAC  X = E(X ^ in_k)   in_0 = B0, in_1..2 = AAD, in_k = P(k-2)
    //!          CTR      K_k = E(A_k)      K_0 = S0 (tag mask), K_j for P_j = C_j ^ K_j
    //! ```
    //!
    //! The keystream runs two blocks ahead of the MAC, so the two AES calls of a
    //! step are independent and every lane adds two more independent blocks.
    //! The two previous keystream blocks live in registers (`k1`, `k2`).
    // Lanes index several parallel arrays (round keys, states, keystream):
    // `for l in 0..N` reads as the data layout does.
    #![allow(clippy::needless_range_loop)]
    use super::{Lane, mic_eq};
    use core::arch::x86_64::*;

    /// Unaligned 16-byte load from a reference.
    #[inline(always)]
    fn ld(b: &[u8; 16]) -> __m128i {
        // SAFETY: `b` is a valid, readable 16-byte region; `loadu` has no
        // alignment requirement; SSE2 is part of the x86-64 baseline.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    }

    /// Unaligned 16-byte store to a reference.
    #[inline(always)]
    fn st(b: &mut [u8; 16], v: __m128i) {
        // SAFETY: `b` is a valid, writable 16-byte region; `storeu` has no
        // alignment requirement; SSE2 is part of the x86-64 baseline.
        unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
    }

    /// AES-128 key expansion (FIPS-197 5.2) with `aeskeygenassist`.
    ///
    /// # Safety
    /// The CPU must support `aes` and `sse4.1`.
    #[target_feature(enable = "aes,sse4.1")]
    pub(super) unsafe fn expand_key(key: &[u8; 16]) -> [[u8; 16]; 11] {
        // The caller guarantees the target features (so the intrinsics are
        // callable); memory is only touched through `ld`/`st` and safe slices.
        let mut out = [[0u8; 16]; 11];
        let mut k = ld(key);
        st(&mut out[0], k);
        macro_rules! round {
            ($i:expr, $rcon:expr) => {
                let t = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
                k = _mm_xor_si128(k, t);
                st(&mut out[$i], k);
            };
        }
        round!(1, 0x01);
        round!(2, 0x02);
        round!(3, 0x04);
        round!(4, 0x08);
        round!(5, 0x10);
        round!(6, 0x20);
        round!(7, 0x40);
        round!(8, 0x80);
        round!(9, 0x1b);
        round!(10, 0x36);
        out
    }

    /// Unaligned 16-byte load through a raw pointer.
    ///
    /// # Safety
    /// `p..p + 16` must be readable.
    #[inline(always)]
    unsafe fn ldp(p: *const u8) -> __m128i {
        // SAFETY: the caller guarantees 16 readable bytes; `loadu` has no
        // alignment requirement; SSE2 is part of the x86-64 baseline.
        unsafe { _mm_loadu_si128(p.cast()) }
    }

    /// Unaligned 16-byte store through a raw pointer.
    ///
    /// # Safety
    /// `p..p + 16` must be writable and not aliased by a live reference.
    #[inline(always)]
    unsafe fn stp(p: *mut u8, v: __m128i) {
        // SAFETY: the caller guarantees 16 writable, unaliased bytes; `storeu`
        // has no alignment requirement; SSE2 is part of the x86-64 baseline.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }

    /// One group's lanes laid out for a kernel of `N` lanes: lane `l` of each
    /// table at index `l`, so four neighbouring lanes are one 64-byte load.
    /// Slots past the group's `n` real lanes repeat lane 0 (same key, counter,
    /// ciphertext and output), so they compute exactly lane 0's plaintext and
    /// write it to the same place; their MIC is never looked at.
    struct Table<const N: usize> {
        n: usize,
        /// Round keys, `rk[r][l]`.
        rk: [[[u8; 16]; N]; 11],
        /// A0 ^ round key 0 (the counter is XORed in per step).
        a0: [[u8; 16]; N],
        /// CBC-MAC inputs of steps 0..3 (B0 and the two AAD blocks).
        head: [[[u8; 16]; N]; 3],
        /// Start of each lane's ciphertext and plaintext output.
        ct: [*const u8; N],
        out: [*mut u8; N],
        /// Payload blocks `0..steady` are whole blocks, and not the last one,
        /// in every lane: `steady <= nblocks - 1` for each lane (0 if a lane
        /// is empty), so `16 * steady < ct.len() == out.len()` for each lane.
        steady: usize,
        /// Steps of the group: its longest lane's `nblocks + 3`.
        steps: usize,
    }

    impl<const N: usize> Table<N> {
        /// `lanes` must not be empty; only its first `N` lanes are used.
        fn new(lanes: &mut [Lane<'_>]) -> Table<N> {
            let n = lanes.len().min(N);
            let mut t = Table {
                n,
                rk: [[[0u8; 16]; N]; 11],
                a0: [[0u8; 16]; N],
                head: [[[0u8; 16]; N]; 3],
                ct: [core::ptr::null(); N],
                out: [core::ptr::null_mut(); N],
                steady: usize::MAX,
                steps: 0,
            };
            for (l, lane) in lanes.iter_mut().enumerate().take(n) {
                for r in 0..11 {
                    t.rk[r][l] = lane.rk[r];
                }
                // SAFETY: register-only SSE2 intrinsic (x86-64 baseline).
                #[allow(unused_unsafe)]
                let a0 = unsafe { _mm_xor_si128(ld(&lane.a0), ld(&lane.rk[0])) };
                st(&mut t.a0[l], a0);
                for k in 0..3 {
                    t.head[k][l] = lane.head[k];
                }
                t.ct[l] = lane.ct.as_ptr();
                // One raw pointer per lane, taken once: the padding slots
                // below copy it rather than reborrowing `lane.out`.
                t.out[l] = lane.out.as_mut_ptr();
                t.steady = t.steady.min(lane.nblocks.saturating_sub(1));
                t.steps = t.steps.max(lane.nblocks + 3);
            }
            for l in n..N {
                for r in 0..11 {
                    t.rk[r][l] = t.rk[r][0];
                }
                t.a0[l] = t.a0[0];
                for k in 0..3 {
                    t.head[k][l] = t.head[k][0];
                }
                t.ct[l] = t.ct[0];
                t.out[l] = t.out[0];
            }
            if n == 0 {
                t.steady = 0;
            }
            t
        }
    }

    /// [`super::head_blocks`] built in registers from the first 32 bytes of
    /// the frame, each block written with one 16-byte store: the byte-wise
    /// reference makes the wide loads that copy its blocks wait for the
    /// stores (no store forwarding), which costs more than the AES of a short
    /// frame. The frame must have passed [`super::Lane::prepare`]'s checks
    /// (so `hdr_len` covers the fields Frame Control announces); `None` if it
    /// is shorter than 32 bytes (never, as it holds 24 + 8 + 8 at least).
    ///
    /// AAD (802.11-2020 12.5.3.3.3) against the frame: FC (masked), then
    /// A1 A2 A3 = frame 4..22, SC masked, [A4 = frame 24..30], [TID, 0]; so
    /// with its 2-byte length in front, AAD block 1 is frame 0..16 with the
    /// first four bytes replaced, and block 2 is frame 16..32 masked.
    pub(super) fn head_blocks(
        frame: &[u8],
        pn: u64,
        ct_len: usize,
    ) -> Option<([[u8; 16]; 3], [u8; 16])> {
        let f: &[u8; 32] = frame.get(..32)?.try_into().ok()?;
        let (fc0, fc1) = (f[0], f[1]);
        let ftype = (fc0 >> 2) & 0x3;
        let data = ftype == 2;
        let mgmt = ftype == 0;
        let qos = data && fc0 & 0x80 != 0;
        let a4 = data && fc1 & 0x03 == 0x03;
        let fc0m = if data { fc0 & 0x8f } else { fc0 };
        let mut fc1m = (fc1 & !0x38) | 0x40;
        if qos {
            fc1m &= 0x7f;
        }
        let aad_len = 22 + if a4 { 6 } else { 0 } + if qos { 2 } else { 0 };
        let tid = if qos {
            f[if a4 { 30 } else { 24 }] & 0x0f
        } else {
            0
        };
        let prio = tid | if mgmt { 0x10 } else { 0 };
        let pn = pn.to_be_bytes();
        let len = (ct_len as u16).to_be_bytes();
        let w = |a: u8, b: u8| i32::from(a) | i32::from(b) << 8;
        let (lo, hi) = f.split_at(16);
        let lo: &[u8; 16] = lo.try_into().ok()?;
        let hi: &[u8; 16] = hi.try_into().ok()?;
        let (lo, hi) = (ld(lo), ld(hi));
        let mut head = [[0u8; 16]; 3];
        let mut a0 = [0u8; 16];
        // SAFETY: register-only SSE2 intrinsics (x86-64 baseline).
        #[allow(unused_unsafe)]
        unsafe {
            // Nonce: priority, A2 (frame 10..16), PN 5..0.
            let n = _mm_slli_si128::<2>(_mm_srli_si128::<10>(lo));
            let n = _mm_insert_epi16::<4>(n, w(pn[2], pn[3]));
            let n = _mm_insert_epi16::<5>(n, w(pn[4], pn[5]));
            let n = _mm_insert_epi16::<6>(n, w(pn[6], pn[7]));
            let b0 = _mm_insert_epi16::<0>(n, w(0x59, prio));
            st(&mut head[0], _mm_insert_epi16::<7>(b0, w(len[0], len[1])));
            st(&mut a0, _mm_insert_epi16::<0>(n, w(0x01, prio)));
            let h1 = _mm_insert_epi16::<0>(lo, w(0, aad_len));
            st(&mut head[1], _mm_insert_epi16::<1>(h1, w(fc0m, fc1m)));
            let keep = 0x0000_ffff_ffff_ffff_i64;
            let mask = _mm_set_epi64x(if a4 { keep } else { 0 }, keep);
            let h2 = _mm_and_si128(hi, mask);
            let h2 = _mm_insert_epi16::<3>(h2, w(f[22] & 0x0f, 0));
            let h2 = if a4 {
                _mm_insert_epi16::<7>(h2, w(tid, 0))
            } else {
                _mm_insert_epi16::<4>(h2, w(tid, 0))
            };
            st(&mut head[2], h2);
        }
        Some((head, a0))
    }

    /// How far ahead (bytes) the kernels ask for ciphertext.
    pub(super) const PREFETCH_AHEAD: usize = 512;

    /// Asks for the cache lines of `b[from..to]` (clipped to `b`).
    #[inline(always)]
    pub(super) fn prefetch(b: &[u8], from: usize, to: usize) {
        let to = to.min(b.len());
        let mut i = from;
        while i < to {
            // SAFETY: `i < b.len()`, so the pointer is inside `b`; a prefetch
            // never faults and reads nothing architecturally (SSE, x86-64
            // baseline).
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(b.as_ptr().add(i).cast())
            };
            i += 64;
        }
    }

    /// Asks for the first and last cache lines of a frame (MAC and CCMP
    /// headers, MIC).
    #[inline(always)]
    pub(super) fn prefetch_ends(frame: &[u8]) {
        prefetch(frame, 0, 64);
        prefetch(frame, frame.len().saturating_sub(8), frame.len());
    }

    /// Payload block `j` (0-based) of a lane when it is a whole block: the
    /// ciphertext and where its plaintext goes.
    #[inline(always)]
    fn full_block<'b>(l: &'b mut Lane<'_>, j: usize) -> Option<(&'b [u8; 16], &'b mut [u8; 16])> {
        let off = j.checked_mul(16)?;
        let c = l.ct.get(off..off + 16)?.try_into().ok()?;
        let o = l.out.get_mut(off..off + 16)?.try_into().ok()?;
        Some((c, o))
    }

    /// The last, partial payload block `j` of a lane: writes its plaintext
    /// and returns it zero-padded (the CBC-MAC input). Built in a register, so
    /// no wide load waits on byte stores.
    #[inline(always)]
    fn partial_block(l: &mut Lane<'_>, j: usize, ks: &[u8; 16]) -> __m128i {
        let off = j.saturating_mul(16);
        let c = l.ct.get(off..).unwrap_or(&[]);
        let n = c.len().min(16);
        let c = &c[..n];
        let v = match (c.first_chunk::<8>(), c.last_chunk::<8>()) {
            // Bytes 8..n are the top n - 8 bytes of the last eight.
            (Some(lo), Some(hi)) => {
                let hi = u64::from_le_bytes(*hi)
                    .checked_shr(8 * (16 - n) as u32)
                    .unwrap_or(0);
                u128::from(u64::from_le_bytes(*lo)) | u128::from(hi) << 64
            }
            _ => c
                .iter()
                .enumerate()
                .fold(0u128, |v, (i, &b)| v | u128::from(b) << (8 * i)),
        };
        let mask = u128::MAX.checked_shr(8 * (16 - n) as u32).unwrap_or(0);
        let p = v ^ (u128::from_le_bytes(*ks) & mask);
        if let Some(o) = l.out.get_mut(off..off + n) {
            o.copy_from_slice(&p.to_le_bytes()[..n]);
        }
        // SAFETY: register-only SSE2 intrinsic (x86-64 baseline).
        #[allow(unused_unsafe)]
        unsafe {
            _mm_set_epi64x((p >> 64) as i64, p as i64)
        }
    }

    /// Tail step `k` (payload block `j = k - 3`, any lane may be done or at its
    /// partial block): writes the plaintext of every real lane's block `j`
    /// (keystream `ks[l]`) and returns the CBC-MAC inputs in `inb` (zeros for
    /// done lanes and padding slots).
    #[inline(always)]
    fn tail_inputs<const N: usize>(
        lanes: &mut [Lane<'_>],
        n: usize,
        j: usize,
        ks: &[[u8; 16]; N],
        inb: &mut [[u8; 16]; N],
    ) {
        *inb = [[0u8; 16]; N];
        for (l, lane) in lanes.iter_mut().enumerate().take(n) {
            if j >= lane.nblocks {
                continue;
            }
            if let Some((c, o)) = full_block(lane, j) {
                // SAFETY: register-only SSE2 intrinsic (x86-64 baseline).
                #[allow(unused_unsafe)]
                let p = unsafe { _mm_xor_si128(ld(c), ld(&ks[l])) };
                st(o, p);
                st(&mut inb[l], p);
            } else {
                st(&mut inb[l], partial_block(lane, j, &ks[l]));
            }
        }
    }

    /// Keeps the MAC of every real lane that has just absorbed its last block.
    #[inline(always)]
    fn capture<const N: usize>(
        lanes: &[Lane<'_>],
        n: usize,
        k: usize,
        x: &[[u8; 16]; N],
        tfinal: &mut [[u8; 16]; N],
    ) {
        for (l, lane) in lanes.iter().enumerate().take(n) {
            if k == lane.nblocks + 2 {
                tfinal[l] = x[l];
            }
        }
    }

    /// Eight (or fewer) lanes with AES-NI. `ok[i]` is set to whether lane `i`'s
    /// MIC verified; its plaintext is in its `out` either way.
    ///
    /// # Safety
    /// The CPU must support `aes` and `sse4.1`. `1 <= lanes.len() <= 8 ==
    /// ok.len()`.
    #[target_feature(enable = "aes,sse4.1")]
    pub(super) unsafe fn ccm_aesni(lanes: &mut [Lane<'_>], ok: &mut [bool]) {
        // The caller guarantees the target features (so the intrinsics are
        // callable); memory is touched through `ld`/`st`, safe slices, and
        // `ldp`/`stp` in the steady phase (bounds argued there).
        const N: usize = super::LANES_AESNI;
        if lanes.is_empty() {
            return;
        }
        let t = Table::<N>::new(lanes);
        let n = t.n;
        let zero = _mm_setzero_si128();
        let ctr = |k: usize| _mm_insert_epi16::<7>(zero, i32::from((k as u16).swap_bytes()));
        let mut x = [zero; N];
        // Keystream computed one and two steps ago (step k's MAC input is
        // plaintext block k - 3, which needs counter k - 2).
        let mut k1 = [zero; N];
        let mut k2 = [zero; N];
        let mut s0 = [zero; N];
        let mut tfinal = [[0u8; 16]; N];
        macro_rules! rounds {
            ($c:ident, $m:ident) => {
                for r in 1..10 {
                    for l in 0..N {
                        let key = ld(&t.rk[r][l]);
                        $c[l] = _mm_aesenc_si128($c[l], key);
                        $m[l] = _mm_aesenc_si128($m[l], key);
                    }
                }
                for l in 0..N {
                    let key = ld(&t.rk[10][l]);
                    $c[l] = _mm_aesenclast_si128($c[l], key);
                    x[l] = _mm_aesenclast_si128($m[l], key);
                    k2[l] = k1[l];
                    k1[l] = $c[l];
                }
            };
        }
        // Head: B0 and the AAD; keystream counters 0..3.
        for k in 0..3 {
            let kv = ctr(k);
            let mut c = [zero; N];
            let mut m = [zero; N];
            for l in 0..N {
                c[l] = _mm_xor_si128(ld(&t.a0[l]), kv);
                m[l] = _mm_xor_si128(_mm_xor_si128(x[l], ld(&t.head[k][l])), ld(&t.rk[0][l]));
            }
            rounds!(c, m);
            if k == 0 {
                s0 = k1;
            }
        }
        let mut xb = [[0u8; 16]; N];
        for l in 0..N {
            st(&mut xb[l], x[l]);
        }
        capture(lanes, n, 2, &xb, &mut tfinal);
        // Steady: every lane has a whole, non-final block j.
        for j in 0..t.steady {
            let kv = ctr(j + 3);
            let off = 16 * j;
            let mut c = [zero; N];
            let mut m = [zero; N];
            if j & 3 == 0 {
                for l in 0..N {
                    // Eight streams, more than the hardware prefetcher follows:
                    // ask for the cache line 8 lines ahead. A prefetch never
                    // faults, and `wrapping_add` makes no claim on bounds.
                    // SAFETY: SSE (x86-64 baseline); reads nothing architecturally.
                    #[allow(unused_unsafe)]
                    unsafe {
                        _mm_prefetch::<_MM_HINT_T0>(
                            t.ct[l].wrapping_add(off + PREFETCH_AHEAD).cast(),
                        )
                    };
                }
            }
            for l in 0..N {
                // SAFETY: `j < t.steady`, so `off + 16 <= 16 * steady <
                // ct.len() == out.len()` for lane `l` (`Table::steady`; a
                // padding slot is lane 0). `out` is only reached through
                // `t.out` during this phase; a padding slot writes lane 0's
                // bytes again with the same value.
                let p = unsafe {
                    let p = _mm_xor_si128(ldp(t.ct[l].add(off)), k2[l]);
                    stp(t.out[l].add(off), p);
                    p
                };
                c[l] = _mm_xor_si128(ld(&t.a0[l]), kv);
                m[l] = _mm_xor_si128(_mm_xor_si128(x[l], p), ld(&t.rk[0][l]));
            }
            rounds!(c, m);
        }
        // Tail: partial blocks, lanes already done.
        let mut ksb = [[0u8; 16]; N];
        let mut inb = [[0u8; 16]; N];
        for k in t.steady + 3..t.steps {
            for l in 0..N {
                st(&mut ksb[l], k2[l]);
            }
            tail_inputs(lanes, n, k - 3, &ksb, &mut inb);
            let kv = ctr(k);
            let mut c = [zero; N];
            let mut m = [zero; N];
            for l in 0..N {
                c[l] = _mm_xor_si128(ld(&t.a0[l]), kv);
                m[l] = _mm_xor_si128(_mm_xor_si128(x[l], ld(&inb[l])), ld(&t.rk[0][l]));
            }
            rounds!(c, m);
            for l in 0..N {
                st(&mut xb[l], x[l]);
            }
            capture(lanes, n, k, &xb, &mut tfinal);
        }
        let mut s0b = [[0u8; 16]; N];
        for l in 0..N {
            st(&mut s0b[l], s0[l]);
        }
        for (l, lane) in lanes.iter().enumerate().take(n) {
            ok[l] = mic_eq(&tfinal[l], &s0b[l], &lane.tag);
        }
    }

    /// The VAES-512 backend; its intrinsics are stable since Rust 1.89
    /// (`build.rs` sets `plugsniff_avx512` on such compilers).
    #[cfg(plugsniff_avx512)]
    #[clippy::msrv = "1.89"]
    mod vaes {
        use super::*;
        /// Four 128-bit lanes into one 512-bit register (a macro, so the AVX
        /// intrinsics expand inside the `avx512f` kernel and inline there).
        macro_rules! join4 {
            ($a:expr, $b:expr, $c:expr, $d:expr $(,)?) => {{
                let lo = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256($a), $b);
                let hi = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256($c), $d);
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
            }};
        }

        /// Lanes `4g..4g+4` of a table row as one 64-byte array.
        #[inline(always)]
        fn quad<const N: usize>(a: &[[u8; 16]; N], g: usize) -> &[[u8; 16]; 4] {
            let (q, _) = a.as_chunks::<4>();
            &q[g]
        }

        /// 64-byte load of four lanes (a macro, as `join4`).
        macro_rules! ld4 {
            ($q:expr) => {{
                let q: &[[u8; 16]; 4] = $q;
                // SAFETY: `q` is a valid, readable 64-byte region; `loadu` has
                // no alignment requirement; the kernel enables `avx512f`.
                unsafe { _mm512_loadu_si512(q.as_ptr().cast()) }
            }};
        }

        /// 64-byte store of four lanes.
        macro_rules! st4 {
            ($q:expr, $v:expr) => {{
                let q: &mut [[u8; 16]; 4] = $q;
                // SAFETY: `q` is a valid, writable 64-byte region; `storeu` has
                // no alignment requirement; the kernel enables `avx512f`.
                unsafe { _mm512_storeu_si512(q.as_mut_ptr().cast(), $v) }
            }};
        }

        /// Sixteen (or fewer) lanes with VAES on 512-bit registers: lanes
        /// 4g..4g+3 share register g. Same contract as [`ccm_aesni`].
        ///
        /// # Safety
        /// The CPU must support `avx512f`, `vaes`, `aes` and `sse4.1`.
        /// `1 <= lanes.len() <= 16 == ok.len()`.
        #[target_feature(enable = "avx512f,vaes,aes,sse4.1,avx2")]
        pub(in super::super) unsafe fn ccm_vaes(lanes: &mut [Lane<'_>], ok: &mut [bool]) {
            // The caller guarantees the target features (so the intrinsics are
            // callable); memory is touched through `ld4`/`st4`, safe slices,
            // and `ldp`/`stp` in the steady phase (bounds argued there).
            const N: usize = super::super::LANES_VAES;
            const G: usize = N / 4;
            if lanes.is_empty() {
                return;
            }
            let t = Table::<N>::new(lanes);
            let n = t.n;
            let zero = _mm512_setzero_si512();
            let ctr = |k: usize| {
                _mm512_broadcast_i32x4(_mm_insert_epi16::<7>(
                    _mm_setzero_si128(),
                    i32::from((k as u16).swap_bytes()),
                ))
            };
            let mut x = [zero; G];
            // Keystream computed one and two steps ago (step k's MAC input is
            // plaintext block k - 3, which needs counter k - 2).
            let mut k1 = [zero; G];
            let mut k2 = [zero; G];
            let mut s0 = [zero; G];
            let mut tfinal = [[0u8; 16]; N];
            macro_rules! rounds {
                ($c:ident, $m:ident) => {
                    for r in 1..10 {
                        for g in 0..G {
                            let key = ld4!(quad(&t.rk[r], g));
                            $c[g] = _mm512_aesenc_epi128($c[g], key);
                            $m[g] = _mm512_aesenc_epi128($m[g], key);
                        }
                    }
                    for g in 0..G {
                        let key = ld4!(quad(&t.rk[10], g));
                        $c[g] = _mm512_aesenclast_epi128($c[g], key);
                        x[g] = _mm512_aesenclast_epi128($m[g], key);
                        k2[g] = k1[g];
                        k1[g] = $c[g];
                    }
                };
            }
            // x ^ input ^ round key 0 in one instruction.
            macro_rules! xor3 {
                ($a:expr, $b:expr, $c:expr) => {
                    _mm512_ternarylogic_epi64::<0x96>($a, $b, $c)
                };
            }
            // Head: B0 and the AAD; keystream counters 0..3.
            for k in 0..3 {
                let kv = ctr(k);
                let mut c = [zero; G];
                let mut m = [zero; G];
                for g in 0..G {
                    c[g] = _mm512_xor_si512(ld4!(quad(&t.a0, g)), kv);
                    m[g] = xor3!(x[g], ld4!(quad(&t.head[k], g)), ld4!(quad(&t.rk[0], g)));
                }
                rounds!(c, m);
                if k == 0 {
                    s0 = k1;
                }
            }
            let mut xb = [[0u8; 16]; N];
            for g in 0..G {
                st4!(xb.as_chunks_mut::<4>().0.get_mut(g).unwrap(), x[g]);
            }
            capture(lanes, n, 2, &xb, &mut tfinal);
            // Steady: every lane has a whole, non-final block j.
            for j in 0..t.steady {
                let kv = ctr(j + 3);
                let off = 16 * j;
                let mut c = [zero; G];
                let mut m = [zero; G];
                if j & 3 == 0 {
                    for l in 0..N {
                        // Sixteen streams, more than the hardware prefetcher
                        // follows: ask for the cache line 8 lines ahead. A
                        // prefetch never faults, and `wrapping_add` makes no
                        // claim on bounds.
                        // SAFETY: SSE (x86-64 baseline); reads nothing
                        // architecturally.
                        #[allow(unused_unsafe)]
                        unsafe {
                            _mm_prefetch::<_MM_HINT_T0>(
                                t.ct[l].wrapping_add(off + PREFETCH_AHEAD).cast(),
                            )
                        };
                    }
                }
                for g in 0..G {
                    let (a, b, cc, d) = (4 * g, 4 * g + 1, 4 * g + 2, 4 * g + 3);
                    // SAFETY: `j < t.steady`, so `off + 16 <= 16 * steady <
                    // ct.len() == out.len()` for every lane (`Table::steady`;
                    // a padding slot is lane 0). `out` is only reached
                    // through `t.out` during this phase; a padding slot writes
                    // lane 0's bytes again with the same value.
                    let p = unsafe {
                        let cb = join4!(
                            ldp(t.ct[a].add(off)),
                            ldp(t.ct[b].add(off)),
                            ldp(t.ct[cc].add(off)),
                            ldp(t.ct[d].add(off)),
                        );
                        let p = _mm512_xor_si512(cb, k2[g]);
                        stp(t.out[a].add(off), _mm512_extracti32x4_epi32::<0>(p));
                        stp(t.out[b].add(off), _mm512_extracti32x4_epi32::<1>(p));
                        stp(t.out[cc].add(off), _mm512_extracti32x4_epi32::<2>(p));
                        stp(t.out[d].add(off), _mm512_extracti32x4_epi32::<3>(p));
                        p
                    };
                    c[g] = _mm512_xor_si512(ld4!(quad(&t.a0, g)), kv);
                    m[g] = xor3!(x[g], p, ld4!(quad(&t.rk[0], g)));
                }
                rounds!(c, m);
            }
            // Tail: partial blocks, lanes already done.
            let mut ksb = [[0u8; 16]; N];
            let mut inb = [[0u8; 16]; N];
            for k in t.steady + 3..t.steps {
                for g in 0..G {
                    st4!(ksb.as_chunks_mut::<4>().0.get_mut(g).unwrap(), k2[g]);
                }
                tail_inputs(lanes, n, k - 3, &ksb, &mut inb);
                let kv = ctr(k);
                let mut c = [zero; G];
                let mut m = [zero; G];
                for g in 0..G {
                    c[g] = _mm512_xor_si512(ld4!(quad(&t.a0, g)), kv);
                    m[g] = xor3!(x[g], ld4!(quad(&inb, g)), ld4!(quad(&t.rk[0], g)));
                }
                rounds!(c, m);
                for g in 0..G {
                    st4!(xb.as_chunks_mut::<4>().0.get_mut(g).unwrap(), x[g]);
                }
                capture(lanes, n, k, &xb, &mut tfinal);
            }
            let mut s0b = [[0u8; 16]; N];
            for g in 0..G {
                st4!(s0b.as_chunks_mut::<4>().0.get_mut(g).unwrap(), s0[g]);
            }
            for (l, lane) in lanes.iter().enumerate().take(n) {
                ok[l] = mic_eq(&tfinal[l], &s0b[l], &lane.tag);
            }
        }
    }
    #[cfg(plugsniff_avx512)]
    pub(super) use vaes::ccm_vaes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// MAC headers of every layout the AAD distinguishes.
    fn header(kind: u8, seed: u8) -> Vec<u8> {
        let mut h: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ seed).collect();
        let (fc0, fc1, len) = match kind % 6 {
            0 => (0x08, 0x41, 24), // data, ToDS
            1 => (0x88, 0x42, 26), // QoS data, FromDS
            2 => (0x88, 0x43, 32), // QoS data, 4-address
            3 => (0x08, 0x43, 30), // data, 4-address
            4 => (0x88, 0xc1, 30), // QoS data + Order: HT Control
            _ => (0xd0, 0x40, 24), // robust action frame (802.11w)
        };
        h.truncate(len);
        h[0] = fc0;
        h[1] = fc1 | (seed & 0x38); // Retry / PwrMgt / MoreData vary
        h
    }

    struct Case {
        tk: [u8; 16],
        frame: Vec<u8>,
        hdr_len: usize,
    }

    fn case(
        tk: [u8; 16],
        kind: u8,
        seed: u8,
        len: usize,
        pn: u64,
        tamper: Option<(usize, u8)>,
    ) -> Case {
        let hdr = header(kind, seed);
        let pt: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(13) ^ seed)
            .collect();
        let mut frame = ccmp::encrypt(&tk, &hdr, pn, seed & 3, &pt);
        if let Some((pos, bit)) = tamper {
            let n = frame.len();
            frame[pos % n] ^= 1 << (bit % 8);
        }
        Case {
            tk,
            hdr_len: hdr.len(),
            frame,
        }
    }

    /// Every backend gives what the `ccm` crate gives, job by job, behind
    /// the kept prefix (job `i` keeps `i % 9` of its 7 bytes: none, some,
    /// all, more than there are). `tks[i]` is the key job `i` is tried under.
    fn check(cases: &[Case], tks: &[[u8; 16]]) -> Result<(), TestCaseError> {
        let keys: Vec<MbKey> = tks.iter().map(MbKey::new).collect();
        let mut expect_out = Vec::new();
        let expect: Vec<_> = cases
            .iter()
            .zip(tks)
            .map(|(c, tk)| {
                let mut o = Vec::new();
                let r = CcmpKey::new(tk).decrypt(&c.frame, c.hdr_len, &mut o);
                expect_out.push(o);
                r
            })
            .collect();
        for b in Backend::available() {
            let mut outs: Vec<Vec<u8>> = (0..cases.len()).map(|_| vec![0xee; 7]).collect();
            let mut jobs: Vec<Job<'_>> = cases
                .iter()
                .zip(&keys)
                .zip(outs.iter_mut())
                .enumerate()
                .map(|(i, ((c, k), o))| Job {
                    key: k,
                    frame: &c.frame,
                    hdr_len: c.hdr_len,
                    keep: i % 9,
                    out: o,
                })
                .collect();
            let mut res = vec![Err(CcmpError::TooShort); jobs.len()];
            decrypt_batch_with(b, &mut jobs, &mut res);
            drop(jobs);
            for i in 0..cases.len() {
                prop_assert_eq!(res[i], expect[i], "backend {:?} job {}", b, i);
                let want = match expect[i] {
                    Ok(_) => [vec![0xee; (i % 9).min(7)], expect_out[i].clone()].concat(),
                    Err(_) => Vec::new(),
                };
                prop_assert_eq!(&outs[i], &want, "backend {:?} job {}", b, i);
            }
        }
        Ok(())
    }

    #[test]
    fn fips197_key_expansion() {
        // FIPS-197 A.1: the last round key of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
        let k = MbKey::new(
            &hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        if Backend::AesNi.supported() {
            assert_eq!(hex::encode(k.rk[10]), "d014f9a8c9ee2589e13f0cc8b6630ca6");
        }
    }

    #[test]
    fn every_length_every_layout() {
        let tks = [[0x11u8; 16], [0x42; 16], [0x99; 16]];
        let mut cases = Vec::new();
        for len in (0..80).chain([255, 256, 257, 1499, 1500, 2304]) {
            let tk = tks[len % 3];
            cases.push(case(tk, len as u8, len as u8, len, len as u64 * 7, None));
        }
        // Tampered: header, CCMP header, payload, MIC; wrong key; truncated.
        for (i, pos) in [1usize, 10, 22, 27, 40, 60, 200, 1000]
            .into_iter()
            .enumerate()
        {
            cases.push(case(tks[0], i as u8, 3, 300, 5, Some((pos, i as u8))));
        }
        let mut wrong = case(tks[1], 0, 0, 100, 1, None);
        wrong.tk = tks[2];
        cases.push(wrong);
        let mut short = case(tks[1], 1, 0, 0, 1, None);
        short.frame.pop();
        cases.push(short);
        let mut no_ext = case(tks[1], 1, 0, 10, 1, None);
        no_ext.frame[26 + 3] &= !0x20;
        cases.push(no_ext);
        let keys: Vec<[u8; 16]> = cases.iter().map(|c| c.tk).collect();
        check(&cases, &keys).unwrap();
    }

    #[test]
    fn empty_batch_and_hostile_hdr_len() {
        let mut res: Vec<Result<CcmpHdr, CcmpError>> = Vec::new();
        decrypt_batch(&mut [], &mut res);
        let c = case([7; 16], 0, 0, 40, 1, None);
        let k = MbKey::new(&c.tk);
        for hdr_len in [0, 23, 25, 60, usize::MAX] {
            let mut out = Vec::new();
            let mut jobs = [Job {
                key: &k,
                frame: &c.frame,
                hdr_len,
                keep: 0,
                out: &mut out,
            }];
            let mut r = [Ok(CcmpHdr { pn: 0, key_id: 0 })];
            decrypt_batch(&mut jobs, &mut r);
            let mut o2 = Vec::new();
            assert_eq!(r[0], k.decrypt(&c.frame, hdr_len, &mut o2));
            assert_eq!(out, o2);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn batch_equals_ccm_crate(
            jobs in proptest::collection::vec(
                (
                    any::<[u8; 16]>(),
                    0u8..6,
                    any::<u8>(),
                    prop_oneof![0usize..64, 0usize..2400],
                    0u64..(1 << 48),
                    proptest::option::weighted(0.25, (any::<usize>(), any::<u8>())),
                    0usize..4,
                ),
                0..40,
            ),
        ) {
            let mut cases = Vec::new();
            let mut keys = Vec::new();
            for (tk, kind, seed, len, pn, tamper, keyidx) in jobs {
                let c = case(tk, kind, seed, len, pn, tamper);
                // A quarter of the jobs are tried under another job's key.
                let first = cases.first().map_or(tk, |c: &Case| c.tk);
                keys.push(if keyidx == 0 { first } else { c.tk });
                cases.push(c);
            }
            check(&cases, &keys)?;
        }

        /// The SIMD CCM head blocks equal the byte-wise reference on any
        /// frame that passes the CCMP header checks (any Frame Control).
        #[cfg(target_arch = "x86_64")]
        #[test]
        fn head_blocks_equal_reference(
            frame in proptest::collection::vec(any::<u8>(), 40..80),
            hdr_len in 24usize..40,
            ct_len in 0usize..3000,
        ) {
            if let Ok(h) = ccmp::ccmp_header(&frame, hdr_len) {
                prop_assert_eq!(
                    x86::head_blocks(&frame, h.pn, ct_len),
                    Some(head_blocks(&frame, hdr_len, h.pn, ct_len))
                );
            }
        }

        /// The phase split (head, steady, tail) at its edges: groups whose
        /// lengths differ by a byte or a block around a common base (so the
        /// shortest lane decides the steady phase), empty payloads, whole
        /// blocks only, and groups shorter than the lane width.
        #[test]
        fn phase_edges_equal_ccm_crate(
            base in 0usize..100,
            deltas in proptest::collection::vec(
                prop_oneof![Just(0isize), Just(1), Just(-1), Just(16), Just(-16), Just(15), Just(17), Just(-17), Just(32)],
                1..36,
            ),
            whole in any::<bool>(),
            tamper in proptest::option::weighted(0.2, 0usize..36),
        ) {
            let tks = [[0x5au8; 16], [0xa5; 16], [0x3c; 16]];
            let base = if whole { base / 16 * 16 } else { base };
            let mut cases = Vec::new();
            for (i, d) in deltas.iter().enumerate() {
                let len = base.saturating_add_signed(*d);
                let t = (tamper == Some(i)).then_some((40 + len, i as u8));
                cases.push(case(tks[i % 3], i as u8, i as u8, len, i as u64 + 1, t));
            }
            let keys: Vec<[u8; 16]> = cases.iter().map(|c| c.tk).collect();
            check(&cases, &keys)?;
        }
    }
}
