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
//! The result of every job is exactly what [`crate::ccmp::CcmpKey::decrypt`]
//! returns for the same frame: the same [`CcmpHdr`] or [`CcmpError`], the same
//! plaintext in `out`, `out` empty on any error. The property tests below check
//! this against the `ccm` crate over random keys, lengths, header layouts and
//! tampering; `tests/ccmp_mb_captures.rs` does it on the real captures.
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
//! they were compiled for. Every unsafe block says why it holds. Memory is only
//! touched through `&[u8; 16]` / `&mut [u8; 16]` references (the unaligned
//! load/store helpers), so no pointer arithmetic happens here.
//!
//! CCM reference: RFC 3610 / NIST SP 800-38C, with M = 8, L = 2 and the 13-byte
//! nonce and AAD of IEEE 802.11-2020 12.5.3.3 ([`ccmp::aad_and_nonce`]).
#![allow(unsafe_code)]

use crate::ccmp::{self, CCMP_HDR_LEN, CCMP_MIC_LEN, CcmpError, CcmpHdr, CcmpKey};

/// Frames interleaved by the AES-NI backend.
pub const LANES_AESNI: usize = 8;
/// Frames interleaved by the VAES-512 backend.
pub const LANES_VAES: usize = 16;
/// Largest CCM payload with L = 2 (RFC 3610 2.1).
const CCM_MAX_LEN: usize = 0xffff;

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
/// (cleared first, capacity reused).
pub struct Job<'a> {
    pub key: &'a MbKey,
    pub frame: &'a [u8],
    pub hdr_len: usize,
    pub out: &'a mut Vec<u8>,
}

/// Decrypts and verifies every job with the fastest backend of this CPU.
/// `results[i]` is the outcome of `jobs[i]`, exactly as
/// [`CcmpKey::decrypt`] would give it; on an error `jobs[i].out` is empty.
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
            *r = j.key.decrypt(j.frame, j.hdr_len, j.out);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
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
        for group in lanes.chunks_mut(width) {
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
        j.out.clear();
        let frame = j.frame;
        let hdr_len = j.hdr_len;
        let hdr = ccmp::ccmp_header(frame, hdr_len)?;
        let body_start = hdr_len + CCMP_HDR_LEN;
        let mic_start = frame
            .len()
            .checked_sub(CCMP_MIC_LEN)
            .filter(|&m| m >= body_start)
            .ok_or(CcmpError::TooShort)?;
        let ct = &frame[body_start..mic_start];
        if ct.len() > CCM_MAX_LEN {
            return Err(CcmpError::MicFailure);
        }
        let mut tag = [0u8; CCMP_MIC_LEN];
        tag.copy_from_slice(&frame[mic_start..]);
        let (aad, nonce) = ccmp::aad_and_nonce(frame, hdr_len, hdr.pn);
        let aad = aad.as_bytes();

        let mut head = [[0u8; 16]; 3];
        // B0: flags = Adata (0x40) | M' = (8-2)/2 << 3 | L' = 2-1 (RFC 3610 2.2).
        head[0][0] = 0x59;
        head[0][1..14].copy_from_slice(&nonce);
        head[0][14..16].copy_from_slice(&(ct.len() as u16).to_be_bytes());
        let mut a = [0u8; 32];
        a[..2].copy_from_slice(&(aad.len() as u16).to_be_bytes());
        let n = aad.len().min(30);
        a[2..2 + n].copy_from_slice(&aad[..n]);
        head[1].copy_from_slice(&a[..16]);
        head[2].copy_from_slice(&a[16..]);
        let mut a0 = [0u8; 16];
        a0[0] = 0x01;
        a0[1..14].copy_from_slice(&nonce);

        j.out.resize(ct.len(), 0);
        Ok(Lane {
            job,
            hdr,
            rk: &j.key.rk,
            ct,
            out: j.out.as_mut_slice(),
            head,
            a0,
            tag,
            nblocks: ct.len().div_ceil(16),
        })
    }
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
    /// and returns it zero-padded (the CBC-MAC input).
    #[inline(never)]
    fn partial_block(l: &mut Lane<'_>, j: usize, ks: &[u8; 16]) -> [u8; 16] {
        let off = j * 16;
        let mut p = [0u8; 16];
        let c = l.ct.get(off..).unwrap_or(&[]);
        let n = c.len().min(16);
        for i in 0..n {
            p[i] = c[i] ^ ks[i];
        }
        if let Some(o) = l.out.get_mut(off..off + n) {
            o.copy_from_slice(&p[..n]);
        }
        p
    }

    /// The CBC-MAC input of `lane` at step `k`, after writing plaintext block
    /// `k - 3` (keystream `ks`) to its output; zeros once the lane is done.
    #[inline(always)]
    fn step_input(lane: &mut Lane<'_>, k: usize, ks: __m128i) -> __m128i {
        if k < 3 {
            return ld(&lane.head[k]);
        }
        let j = k - 3;
        if j & 3 == 0 {
            // Sixteen lanes are sixteen streams, more than the hardware
            // prefetcher follows: ask for the cache line 8 lines ahead.
            if let Some(b) = lane.ct.get(j * 16 + 512) {
                // SAFETY: `b` is a reference into the ciphertext; a prefetch
                // never faults and reads nothing architecturally (SSE, x86-64
                // baseline).
                #[allow(unused_unsafe)]
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>((b as *const u8).cast())
                };
            }
        }
        if j >= lane.nblocks {
            // SAFETY: register-only SSE2 intrinsic (x86-64 baseline).
            #[allow(unused_unsafe)]
            return unsafe { _mm_setzero_si128() };
        }
        if let Some((c, o)) = full_block(lane, j) {
            // SAFETY: register-only SSE2 intrinsic (x86-64 baseline).
            #[allow(unused_unsafe)]
            let p = unsafe { _mm_xor_si128(ld(c), ks) };
            st(o, p);
            p
        } else {
            let mut kb = [0u8; 16];
            st(&mut kb, ks);
            ld(&partial_block(lane, j, &kb))
        }
    }

    /// Eight (or fewer) lanes with AES-NI. `ok[i]` is set to whether lane `i`'s
    /// MIC verified; its plaintext is in its `out` either way.
    ///
    /// # Safety
    /// The CPU must support `aes` and `sse4.1`. `lanes.len() <= 8 == ok.len()`.
    #[target_feature(enable = "aes,sse4.1")]
    pub(super) unsafe fn ccm_aesni(lanes: &mut [Lane<'_>], ok: &mut [bool]) {
        // The caller guarantees the target features (so the intrinsics are
        // callable); memory is only touched through `ld`/`st` and safe slices.
        const N: usize = super::LANES_AESNI;
        let n = lanes.len().min(N);
        let zero = _mm_setzero_si128();
        let mut rk = [[zero; 11]; N];
        let mut a0 = [zero; N];
        for (l, lane) in lanes.iter().enumerate().take(n) {
            for r in 0..11 {
                rk[l][r] = ld(&lane.rk[r]);
            }
            a0[l] = ld(&lane.a0);
        }
        for l in n..N {
            rk[l] = rk[0];
        }
        let steps = lanes[..n].iter().map(|l| l.nblocks).max().unwrap_or(0) + 3;
        let mut x = [zero; N];
        let mut s0 = [[0u8; 16]; N];
        let mut tfinal = [[0u8; 16]; N];
        // Keystream ring: K_k lives in ks[k % 3] until step k + 2 uses it.
        let mut ks = [[zero; N]; 3];
        for k in 0..steps {
            let kv = _mm_insert_epi16::<7>(zero, i32::from((k as u16).swap_bytes()));
            let mut c = [zero; N];
            let mut m = [zero; N];
            for l in 0..N {
                c[l] = _mm_or_si128(a0[l], kv);
            }
            for (l, lane) in lanes.iter_mut().enumerate().take(n) {
                let inb = step_input(lane, k, ks[(k + 1) % 3][l]);
                m[l] = _mm_xor_si128(x[l], inb);
            }
            for l in 0..N {
                c[l] = _mm_xor_si128(c[l], rk[l][0]);
                m[l] = _mm_xor_si128(m[l], rk[l][0]);
            }
            for r in 1..10 {
                for l in 0..N {
                    c[l] = _mm_aesenc_si128(c[l], rk[l][r]);
                    m[l] = _mm_aesenc_si128(m[l], rk[l][r]);
                }
            }
            for l in 0..N {
                c[l] = _mm_aesenclast_si128(c[l], rk[l][10]);
                x[l] = _mm_aesenclast_si128(m[l], rk[l][10]);
                ks[k % 3][l] = c[l];
            }
            for (l, lane) in lanes.iter().enumerate().take(n) {
                if k == 0 {
                    st(&mut s0[l], ks[0][l]);
                }
                if k == lane.nblocks + 2 {
                    st(&mut tfinal[l], x[l]);
                }
            }
        }
        for (l, lane) in lanes.iter().enumerate().take(n) {
            ok[l] = mic_eq(&tfinal[l], &s0[l], &lane.tag);
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

        /// Sixteen (or fewer) lanes with VAES on 512-bit registers: lanes 4g..4g+3
        /// share register g. Same contract as [`ccm_aesni`].
        ///
        /// # Safety
        /// The CPU must support `avx512f`, `vaes`, `aes` and `sse4.1`.
        /// `lanes.len() <= 16 == ok.len()`.
        #[target_feature(enable = "avx512f,vaes,aes,sse4.1,avx2")]
        pub(in super::super) unsafe fn ccm_vaes(lanes: &mut [Lane<'_>], ok: &mut [bool]) {
            // The caller guarantees the target features (so the intrinsics are
            // callable); memory is only touched through `ld`/`st` and safe slices.
            const N: usize = super::super::LANES_VAES;
            const G: usize = N / 4;
            let n = lanes.len().min(N);
            let mut rk1 = [[[0u8; 16]; 11]; N];
            let mut a01 = [[0u8; 16]; N];
            for (l, lane) in lanes.iter().enumerate().take(n) {
                rk1[l] = *lane.rk;
                a01[l] = lane.a0;
            }
            for l in n..N {
                rk1[l] = rk1[0];
            }
            let mut rk = [[_mm512_setzero_si512(); 11]; G];
            let mut a0 = [_mm512_setzero_si512(); G];
            for g in 0..G {
                for r in 0..11 {
                    rk[g][r] = join4!(
                        ld(&rk1[4 * g][r]),
                        ld(&rk1[4 * g + 1][r]),
                        ld(&rk1[4 * g + 2][r]),
                        ld(&rk1[4 * g + 3][r]),
                    );
                }
                a0[g] = join4!(
                    ld(&a01[4 * g]),
                    ld(&a01[4 * g + 1]),
                    ld(&a01[4 * g + 2]),
                    ld(&a01[4 * g + 3]),
                );
            }
            let steps = lanes[..n].iter().map(|l| l.nblocks).max().unwrap_or(0) + 3;
            let mut x = [_mm512_setzero_si512(); G];
            let mut s0 = [[0u8; 16]; N];
            let mut tfinal = [[0u8; 16]; N];
            let mut ks = [[[0u8; 16]; N]; 3];
            for k in 0..steps {
                let kv = _mm512_broadcast_i32x4(_mm_insert_epi16::<7>(
                    _mm_setzero_si128(),
                    i32::from((k as u16).swap_bytes()),
                ));
                let mut inb = [_mm_setzero_si128(); N];
                for (l, lane) in lanes.iter_mut().enumerate().take(n) {
                    inb[l] = step_input(lane, k, ld(&ks[(k + 1) % 3][l]));
                }
                let mut c = [_mm512_setzero_si512(); G];
                let mut m = [_mm512_setzero_si512(); G];
                for g in 0..G {
                    c[g] = _mm512_xor_si512(_mm512_or_si512(a0[g], kv), rk[g][0]);
                    let i = join4!(inb[4 * g], inb[4 * g + 1], inb[4 * g + 2], inb[4 * g + 3],);
                    m[g] = _mm512_xor_si512(_mm512_xor_si512(x[g], i), rk[g][0]);
                }
                for r in 1..10 {
                    for g in 0..G {
                        c[g] = _mm512_aesenc_epi128(c[g], rk[g][r]);
                        m[g] = _mm512_aesenc_epi128(m[g], rk[g][r]);
                    }
                }
                for g in 0..G {
                    c[g] = _mm512_aesenclast_epi128(c[g], rk[g][10]);
                    x[g] = _mm512_aesenclast_epi128(m[g], rk[g][10]);
                    let slot = &mut ks[k % 3];
                    st(&mut slot[4 * g], _mm512_extracti32x4_epi32::<0>(c[g]));
                    st(&mut slot[4 * g + 1], _mm512_extracti32x4_epi32::<1>(c[g]));
                    st(&mut slot[4 * g + 2], _mm512_extracti32x4_epi32::<2>(c[g]));
                    st(&mut slot[4 * g + 3], _mm512_extracti32x4_epi32::<3>(c[g]));
                }
                for (l, lane) in lanes.iter().enumerate().take(n) {
                    if k == 0 {
                        s0[l] = ks[0][l];
                    }
                    if k == lane.nblocks + 2 {
                        let g = l / 4;
                        let v = match l % 4 {
                            0 => _mm512_extracti32x4_epi32::<0>(x[g]),
                            1 => _mm512_extracti32x4_epi32::<1>(x[g]),
                            2 => _mm512_extracti32x4_epi32::<2>(x[g]),
                            _ => _mm512_extracti32x4_epi32::<3>(x[g]),
                        };
                        st(&mut tfinal[l], v);
                    }
                }
            }
            for (l, lane) in lanes.iter().enumerate().take(n) {
                ok[l] = mic_eq(&tfinal[l], &s0[l], &lane.tag);
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

    /// Every backend gives what the `ccm` crate gives, job by job.
    /// `tks[i]` is the key job `i` is tried under.
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
                .map(|((c, k), o)| Job {
                    key: k,
                    frame: &c.frame,
                    hdr_len: c.hdr_len,
                    out: o,
                })
                .collect();
            let mut res = vec![Err(CcmpError::TooShort); jobs.len()];
            decrypt_batch_with(b, &mut jobs, &mut res);
            drop(jobs);
            for i in 0..cases.len() {
                prop_assert_eq!(res[i], expect[i], "backend {:?} job {}", b, i);
                prop_assert_eq!(&outs[i], &expect_out[i], "backend {:?} job {}", b, i);
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
    }
}
