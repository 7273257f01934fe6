//! The layering of the crate (docs/ARCHITECTURE.md, "Layers"), checked on the
//! sources: every `crate::…` path in a module's non-test code must name a
//! module of a lower layer (or the module itself), and no two top-level
//! modules — nor two sibling files of one folder — import each other.
//!
//! A failure names the file and the path that points upward.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up. A module may use any module of a
/// lower rank; equal ranks may not use each other.
const LAYERS: &[(&str, u8)] = &[
    // The bottom: views over bytes, no state, no I/O.
    ("wire", 0),
    // Ciphers, then key management (which names the ciphers it negotiates).
    ("crypto", 1),
    ("wpa", 2),
    // Frames in, MSDUs out.
    ("engine", 3),
    // Frame sources (files, pipes, interfaces): produce frames only.
    ("capture", 3),
    // IP, flows, names; then the application decoders.
    ("flows", 3),
    ("decoders", 4),
    // What a run reports (typed events, inventory, counters).
    ("report", 5),
    // Frames to events (watch) and events to words/files (output): side by
    // side, neither imports the other.
    ("watch", 6),
    ("output", 6),
    // Threads around the engine/watcher.
    ("pipeline", 7),
    // The generator of synthetic captures (tests, demo, bench).
    ("synth", 7),
    // The command line, and the development harnesses.
    ("cli", 8),
    ("fuzz_targets", 9),
];

/// Crate-root items every layer may use (`crate::FastMap`).
const ROOT_ITEMS: &[&str] = &["FastMap"];

fn rank(m: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, r)| *r)
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module and without
/// comments (doc links may point anywhere).
fn code(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod tests") {
        Some(i) => &src[..i],
        None => src,
    };
    src.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::a::b` paths in `code`, as their first one or two segments.
fn crate_paths(code: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let seg = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let first = seg(rest);
        let second = rest
            .get(first.len()..)
            .and_then(|r| r.strip_prefix("::"))
            .map(seg)
            .filter(|s| !s.is_empty());
        out.push((first, second));
    }
    out
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    let mut bad = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(top.as_str(), "lib" | "main") {
            continue;
        }
        let Some(r) = rank(&top) else {
            bad.push(format!("{rel}: module `{top}` is not in LAYERS"));
            continue;
        };
        let src = std::fs::read_to_string(f).unwrap();
        for (used, _) in crate_paths(&code(&src)) {
            if used == top || ROOT_ITEMS.contains(&used.as_str()) {
                continue;
            }
            match rank(&used) {
                Some(u) if u < r => {
                    edges.entry(top.clone()).or_default().insert(used);
                }
                Some(_) => bad.push(format!("{rel}: `{top}` uses crate::{used} (not below it)")),
                None => bad.push(format!("{rel}: unknown module crate::{used}")),
            }
        }
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
    // The promises ARCHITECTURE.md makes, spelled out.
    let uses = |a: &str, b: &str| edges.get(a).is_some_and(|s| s.contains(b));
    assert!(edges.get("wire").is_none_or(|s| s.is_empty()));
    assert!(!uses("capture", "engine") && !uses("capture", "watch"));
    assert!(!uses("output", "watch") && !uses("watch", "output"));
}

/// Sibling files of one folder (not `mod.rs`, their parent) do not import
/// each other in a cycle.
#[test]
fn no_import_cycle_between_sibling_files() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    let mut dirs: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        if f.file_name()
            .is_some_and(|n| n != "mod.rs" && n != "lib.rs")
        {
            dirs.entry(f.parent().unwrap().to_path_buf())
                .or_default()
                .push(f);
        }
    }
    let mut cycles = Vec::new();
    for (dir, fs) in dirs {
        let names: Vec<String> = fs
            .iter()
            .map(|f| f.file_stem().unwrap().to_string_lossy().to_string())
            .collect();
        let uses = |f: &Path, other: &str| -> bool {
            let c = code(&std::fs::read_to_string(f).unwrap());
            c.contains(&format!("super::{other}::"))
                || c.contains(&format!("super::{other}}}"))
                || c.contains(&format!("super::{{{other}"))
                || c.contains(&format!("super::{other};"))
        };
        for (i, a) in fs.iter().enumerate() {
            for (j, b) in fs.iter().enumerate().skip(i + 1) {
                if uses(a, &names[j]) && uses(b, &names[i]) {
                    cycles.push(format!("{}: {} ↔ {}", dir.display(), names[i], names[j]));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_paths() {
    let c =
        code("use crate::wire::Ts; // crate::watch\n#[cfg(test)]\nmod tests { use crate::cli; }");
    assert_eq!(
        crate_paths(&c),
        vec![("wire".to_string(), Some("Ts".to_string()))]
    );
}
