//! Every fuzz target (`dtindex::fuzzing::TARGETS`: the catalog parsers, the format sniffer,
//! the declaration and the configuration loaders) on its seeds and on a bounded, seeded
//! run of mutations of them: none may panic. This is the part of fuzzing that runs on
//! every `cargo test`; longer, coverage-guided runs use cargo-fuzz (see `fuzz/` and
//! docs/security.md).
//!
//! `DTINDEX_FUZZ_ITERATIONS` sets the mutations per target (default 300).

use std::path::{Path, PathBuf};

use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// Mutated inputs are cut to this: the bugs live in structure, not in size, and the run
/// must stay seconds long in a debug build.
const MAX_INPUT: usize = 16 * 1024;

/// Bytes that mean something to one of the formats.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\u0000",
    b"\\ud800",
    b"1e999",
    b"-0",
    b"null",
    b"<",
    b">",
    b"</",
    b"<!DOCTYPE",
    b"<?xml",
    b"@prefix",
    b"_:",
    b" .",
    b";",
    b"\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"PK\x03\x04",
    b"\"@context\"",
    b"\"@graph\"",
    b"\"dataset\"",
    b"\"result\"",
    b"[[agency]]",
    b"[crawl]",
    b"=",
];

fn seeds(dirs: &[(&str, &str)]) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for (dir, ext) in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == *ext))
            .collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
    out
}

fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let start = if input.len() > MAX_INPUT {
        rng.random_range(0..input.len() - MAX_INPUT)
    } else {
        0
    };
    let mut out = input[start..(start + MAX_INPUT).min(input.len())].to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..6) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => out.truncate(at),
            2 if at < out.len() => {
                let end = rng.random_range(at..=out.len().min(at + 256));
                out.drain(at..end);
            }
            3 if at < out.len() => {
                // Repeats a slice: nesting, duplicate keys, repeated records.
                let end = rng.random_range(at..=out.len().min(at + 512));
                let slice = out[at..end].to_vec();
                for _ in 0..rng.random_range(1..=16) {
                    out.splice(at..at, slice.iter().copied());
                }
            }
            _ => {
                let token = TOKENS.choose(rng).copied().unwrap_or(b"{");
                out.splice(at..at, token.iter().copied());
            }
        }
        out.truncate(4 * MAX_INPUT);
    }
    out
}

#[test]
fn every_fuzz_target_survives_its_seeds_and_their_mutations() {
    let iterations: usize = std::env::var("DTINDEX_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut seeded = 0;
    for target in dtindex::fuzzing::TARGETS {
        let seeds = seeds(target.seeds);
        seeded += usize::from(!seeds.is_empty());
        for (path, bytes) in &seeds {
            (target.run)(bytes);
            let _ = path;
        }
        // Each target its own stream, so a failure is replayed by its name alone.
        let mut rng = ChaCha8Rng::seed_from_u64(target.name.bytes().fold(0xF022_u64, |h, b| {
            h.wrapping_mul(31).wrapping_add(u64::from(b))
        }));
        let empty = (PathBuf::new(), Vec::new());
        for n in 0..iterations {
            let (path, seed) = seeds.choose(&mut rng).unwrap_or(&empty);
            let input = mutate(&mut rng, seed);
            let outcome = std::panic::catch_unwind(|| (target.run)(&input));
            if outcome.is_err() {
                let saved = std::env::temp_dir().join(format!("dtindex-fuzz-{}-{n}", target.name));
                let _ = std::fs::write(&saved, &input);
                panic!(
                    "fuzz target {} panicked on mutation {n} of {}; input saved to {}",
                    target.name,
                    path.display(),
                    saved.display()
                );
            }
        }
    }
    assert!(seeded >= 8, "most targets have seeds ({seeded})");
}
