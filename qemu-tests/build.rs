//! One install scenario per file in profiles/ and per case (disko's rule:
//! examples are tests): `profile_<name>_<case>`, so a new profile is a set
//! of scenarios without anyone writing one. The cases are those of
//! qemu-tests/tests/profiles. And one `layout_<name>` per file in
//! qemu-tests/layouts/.

use std::fmt::Write as _;
use std::path::Path;

const CASES: [&str; 4] = ["uefi", "bios", "degraded", "reprovision"];

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = String::new();
    for name in names(&manifest.join("../profiles")) {
        let ident = name.replace('-', "_");
        for case in CASES {
            let _ = writeln!(
                out,
                "#[test]\nfn profile_{ident}_{case}() {{\n    super::scenario({name:?}, {case:?});\n}}"
            );
        }
    }
    // Layouts no shipped profile has, each on the minimal ISO.
    for name in names(&manifest.join("layouts")) {
        let ident = name.replace('-', "_");
        let _ = writeln!(
            out,
            "#[test]\nfn layout_{ident}() {{\n    super::layout({name:?});\n}}"
        );
    }
    let path = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("profiles.rs");
    std::fs::write(path, out).unwrap_or_else(|err| panic!("writing the profile scenarios: {err}"));
}

/// The profiles in `dir` by name (not the `.test.toml` files beside them).
fn names(dir: &Path) -> Vec<String> {
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".toml")
                        .map(String::from)
                })
                .filter(|name| !name.ends_with(".test"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
