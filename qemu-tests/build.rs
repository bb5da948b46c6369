//! One install scenario per file in profiles/ and per case (disko's rule:
//! examples are tests): `profile_<name>_<case>`, so a new profile is a set
//! of scenarios without anyone writing one. The cases are those of
//! qemu-tests/tests/profiles.

use std::fmt::Write as _;
use std::path::Path;

const CASES: [&str; 4] = ["uefi", "bios", "degraded", "reprovision"];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".toml")
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::new();
    for name in names {
        let ident = name.replace('-', "_");
        for case in CASES {
            let _ = writeln!(
                out,
                "#[test]\nfn profile_{ident}_{case}() {{\n    super::scenario({name:?}, {case:?});\n}}"
            );
        }
    }
    let path = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("profiles.rs");
    std::fs::write(path, out).unwrap_or_else(|err| panic!("writing the profile scenarios: {err}"));
}
