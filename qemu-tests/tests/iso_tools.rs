//! inject-answer and flash on the built ISO (root: they build the ISO and
//! use loop devices; elsewhere they say why they skip).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use qemu_tests::iso::{built, built_from, unavailable};

fn image_builder() -> Command {
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/image-builder");
    if !binary.exists() {
        let status = Command::new("cargo")
            .args(["build", "-q", "-p", "image-builder"])
            .status()
            .expect("cargo");
        assert!(status.success());
    }
    Command::new(binary)
}

fn xorriso_report(iso: &Path) -> String {
    let out = Command::new("xorriso")
        .args([
            "-indev",
            &iso.display().to_string(),
            "-report_el_torito",
            "plain",
            "-report_system_area",
            "plain",
        ])
        .output()
        .expect("xorriso");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn extract(iso: &Path, file: &str, to: &Path) -> String {
    extract_file(iso, file, to);
    std::fs::read_to_string(to).expect("extracted")
}

fn extract_file(iso: &Path, file: &str, to: &Path) {
    let status = Command::new("xorriso")
        .args([
            "-osirrox",
            "on",
            "-indev",
            &iso.display().to_string(),
            "-extract",
            file,
            &to.display().to_string(),
        ])
        .output()
        .expect("xorriso");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// A file inside a squashfs, as text.
fn squashfs_cat(squashfs: &Path, file: &str) -> String {
    let out = Command::new("unsquashfs")
        .arg("-cat")
        .arg(squashfs)
        .arg(file)
        .output()
        .expect("unsquashfs");
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn inject(iso: &Path, answer: &Path, out: &Path) -> std::process::Output {
    image_builder()
        .args(["inject-answer"])
        .arg(iso)
        .arg(answer)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run")
}

/// A test's folder under target/qemu-tests, removed when the test passes:
/// its ISO copies are large and a CI machine's disk is small.
struct Scratch(PathBuf);

impl Scratch {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/qemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    Scratch(dir)
}

const ANSWER: &str = "hostname = \"injected\"\n\n[users.admin]\npassword = \"$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0\"\n";

#[test]
fn inject_answer_replaces_the_answer_and_keeps_the_boot_equipment() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let profile = std::env::var("HEARTH_TEST_PROFILE").unwrap_or_else(|_| "homelab".into());
    let iso = built(&profile).expect("ISO");
    let dir = scratch("inject");
    let answer = dir.join("answer.toml");
    std::fs::write(&answer, ANSWER).expect("answer");
    let out = dir.join("with-answer.iso");
    let started = Instant::now();
    let run = inject(&iso, &answer, &out);
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("inject-answer took {seconds:.1}s");
    assert_eq!(
        extract(&out, "/hearth/answer.toml", &dir.join("got.toml")),
        ANSWER
    );
    let before = xorriso_report(&iso);
    let after = xorriso_report(&out);
    for needle in [
        "El Torito boot img :   1  BIOS",
        "El Torito boot img :   2  UEFI",
        "GPT partition name",
    ] {
        assert_eq!(
            before.contains(needle),
            after.contains(needle),
            "`{needle}` changed:\n{after}"
        );
        assert!(after.contains(needle), "`{needle}` missing:\n{after}");
    }

    // A broken answer is refused before anything is written.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "hostname = \"no spaces allowed\"\n").expect("bad answer");
    let refused_out = dir.join("refused.iso");
    let refused = inject(&iso, &bad, &refused_out);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("bad.toml:1:1: hostname"));
    assert!(!refused_out.exists());
}

#[test]
fn flash_refuses_a_fixed_disk_and_verifies_what_it_writes() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let profile = std::env::var("HEARTH_TEST_PROFILE").unwrap_or_else(|_| "homelab".into());
    let iso = built(&profile).expect("ISO");
    let dir = scratch("flash");
    let stick = dir.join("stick.img");
    let size = std::fs::metadata(&iso).expect("iso").len() + (64 << 20);
    std::fs::File::create(&stick)
        .and_then(|f| f.set_len(size))
        .expect("stick image");
    let out = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(&stick)
        .output()
        .expect("losetup");
    let device = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success());
    let refused = image_builder()
        .args(["flash"])
        .arg(&iso)
        .arg(&device)
        .arg("--yes")
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not removable"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let flashed = image_builder()
        .args(["flash"])
        .arg(&iso)
        .arg(&device)
        .args(["--yes", "--force"])
        .output()
        .expect("run");
    let _ = Command::new("losetup").args(["-d", &device]).status();
    assert!(
        flashed.status.success(),
        "{}",
        String::from_utf8_lossy(&flashed.stderr)
    );
    assert!(String::from_utf8_lossy(&flashed.stdout).contains("wrote and verified"));
}

/// A profile kept outside profiles/ that extends a profile beside it: the
/// ISO carries it merged, takes an answer, and the live system finds it by
/// name, with the list of what its base carries.
#[test]
fn an_iso_of_a_layered_profile_kept_elsewhere_takes_an_answer() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = scratch("layered");
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        workspace.join("profiles/minimal.toml"),
        dir.join("minimal.toml"),
    )
    .expect("parent");
    let edge = dir.join("edge.toml");
    std::fs::write(
        &edge,
        "name = \"edge\"\nextends = \"minimal\"\ndescription = \"a branch office box\"\n\n[system]\ntimezone = \"Europe/Brussels\"\n",
    )
    .expect("child");
    let iso = built_from(&edge, "edge").expect("the layered profile builds");

    let answer = dir.join("answer.toml");
    std::fs::write(&answer, ANSWER).expect("answer");
    let out = dir.join("with-answer.iso");
    let run = inject(&iso, &answer, &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let carried = extract(&out, "/hearth/profile.toml", &dir.join("profile.toml"));
    assert!(!carried.contains("extends"), "{carried}");
    assert!(
        carried.contains("Europe/Brussels"),
        "the child's value: {carried}"
    );
    assert!(
        carried.contains("[[storage.pools]]"),
        "the parent's pools: {carried}"
    );

    let layer = dir.join("10-hearth.squashfs");
    extract_file(&out, "/live/10-hearth.squashfs", &layer);
    let share = "usr/share/hearth";
    assert_eq!(
        squashfs_cat(&layer, &format!("{share}/default-profile")),
        "edge\n"
    );
    assert_eq!(
        squashfs_cat(&layer, &format!("{share}/profiles/edge.toml")),
        carried
    );
    let packages = squashfs_cat(&layer, &format!("{share}/packages"));
    assert!(
        packages.lines().any(|p| p == "openssh-server"),
        "{packages}"
    );
    assert!(
        !packages.lines().any(|p| p == "samba"),
        "a minimal base carries no Samba"
    );
}
