//! Sets `cfg(plugsniff_avx512)` when the compiler has the AVX-512 / VAES
//! intrinsics (stable since Rust 1.89), so the crate still builds with its
//! MSRV (the VAES-512 backend of `ccmp_mb` is then left out).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(plugsniff_avx512)");
    println!("cargo::rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=plugsniff_avx512");
    }
}
