//! The installer's commands as a user runs them.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use hearth_installer::load;
use hearth_installer::plan::Plan;
use hearth_installer::profile::Addressing;

fn installer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .output()
        .expect("run installer")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn validate_accepts_every_shipped_profile() {
    for entry in std::fs::read_dir("../profiles")
        .expect("profiles folder")
        .flatten()
    {
        let path = entry.path();
        let out = installer(&["validate", path.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("valid"));
    }
}

#[test]
fn validate_rejects_with_every_message_and_a_failure_code() {
    let out = installer(&[
        "validate",
        "tests/invalid/profiles/static-without-address.toml",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("static-without-address.toml:26:1: network.addressing: static addressing needs `address`"), "{err}");
    assert!(err.contains("needs `gateway`"), "{err}");
    assert!(err.contains("2 problems; nothing was changed"), "{err}");
}

#[test]
fn validate_checks_an_answer_against_its_profile() {
    let out = installer(&[
        "validate",
        "../profiles/homelab.toml",
        "--answer",
        "tests/invalid/answers/unknown-user.toml",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no user `bob` in profile `homelab`"));
    let good = installer(&[
        "validate",
        "../profiles/homelab.toml",
        "--answer",
        "tests/fixtures/machines/ssd2-hdd4/answer.toml",
    ]);
    assert!(good.status.success(), "{}", text(&good.stderr));
}

#[test]
fn plan_json_is_the_plan() {
    let machine = "tests/fixtures/machines/ssd2-hdd4";
    let out = installer(&[
        "plan",
        "--profile",
        "../profiles/homelab.toml",
        "--answer",
        &format!("{machine}/answer.toml"),
        "--inventory",
        &format!("{machine}/inventory.json"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(plan.erase.len(), 5);
    assert_eq!(plan.untouched.len(), 1);
    assert_eq!(plan.boot.disks.len(), 2, "both root mirror disks boot");
    assert_eq!(plan.hostname, "ssd2-hdd4");
}

#[test]
fn plan_preview_names_every_disk_it_erases() {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .current_dir("..")
        .args([
            "plan",
            "--profile",
            "homelab",
            "--answer",
            "installer/tests/fixtures/machines/usb-stick/answer.toml",
            "--inventory",
            "installer/tests/fixtures/machines/usb-stick/inventory.json",
        ])
        .output()
        .expect("run installer");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let preview = text(&out.stdout);
    let erased = preview
        .split("Disks left untouched")
        .next()
        .unwrap_or_default();
    for serial in [
        "S6PXNS0T100001A",
        "S6PXNS0T100002B",
        "WD-WX12D00000",
        "WD-WX12D00001",
        "WD-WX12D00002",
    ] {
        assert!(
            erased.contains(&format!("serial {serial}")),
            "{serial} missing from:\n{erased}"
        );
    }
    assert!(erased.contains("model Samsung SSD 870 EVO 500GB") && erased.contains("500.1 GB"));
    assert!(
        !erased.contains("SanDisk"),
        "the boot stick is never erased"
    );
    assert!(
        preview.contains("SanDisk 3.2Gen1  serial 0401ab12cd34: the medium Hearth is running from")
    );
}

#[test]
fn a_profile_extends_another() {
    let loaded =
        load::profile(Path::new("tests/fixtures/layered/branch.toml")).expect("branch loads");
    let profile = loaded.value;
    assert_eq!(profile.system.hostname, "branch", "the child wins");
    assert_eq!(
        profile.system.timezone, "Europe/Brussels",
        "tables merge key by key"
    );
    assert_eq!(
        profile.storage.pools.len(),
        1,
        "the parent's pools are inherited"
    );
    assert_eq!(profile.network.addressing, Addressing::Static);
}

#[test]
fn a_merged_profile_stands_alone_and_means_the_same() {
    let branch = Path::new("tests/fixtures/layered/branch.toml");
    let merged = load::merged(branch).expect("branch merges");
    assert!(!merged.contains_key("extends"), "{merged:?}");
    let dir = std::env::temp_dir().join(format!("hearth-merged-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("dir");
    let alone = dir.join("branch.toml");
    fs::write(&alone, toml::to_string(&merged).expect("toml")).expect("write");
    let from_merged = load::profile(&alone).expect("the merged profile loads without office.toml");
    fs::remove_dir_all(&dir).expect("cleanup");
    let mut original = load::profile(branch).expect("branch loads").value;
    original.extends = None;
    assert_eq!(from_merged.value, original);
}

#[test]
fn problems_in_a_layered_profile_point_at_the_file_that_wrote_them() {
    let err = match load::profile(Path::new("tests/fixtures/layered/broken-branch.toml")) {
        Ok(_) => panic!("broken-branch was accepted"),
        Err(problems) => problems.to_string(),
    };
    assert!(
        err.starts_with("tests/fixtures/layered/broken-branch.toml:6:"),
        "the share path is written in the child: {err}"
    );
    assert!(err.contains("/nowhere/office is on no dataset"), "{err}");
}

#[test]
fn hash_password_prints_answer_lines_that_validate() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run installer");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let lines = text(&out.stdout);
    // The printed lines, as a user pastes them under [users.admin].
    let dir = std::env::temp_dir().join(format!("hearth-hash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let answer = dir.join("answer.toml");
    std::fs::write(&answer, format!("[users.admin]\n{lines}")).expect("answer");
    let profile = load::profile(Path::new("../profiles/nas.toml")).expect("nas profile");
    let loaded = load::answer(&answer, &profile.value).expect("the printed lines validate");
    let admin = &loaded.value.users["admin"];
    let crypt = admin.password.as_deref().expect("password");
    assert!(sha_crypt::sha512_check("correct horse", crypt).is_ok());
    assert_eq!(
        admin.samba_nt_hash.as_deref(),
        Some(hearth_installer::password::nt_hash("correct horse").as_str())
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// An unattended install of an encrypted root with no passphrase in the
/// answer stops before any write: nobody is at the console to type it.
#[test]
fn an_unattended_install_without_the_passphrase_is_refused_before_any_write() {
    let text =
        fs::read_to_string("tests/golden/plans/encrypted--ssd2-hdd4.json").expect("golden plan");
    let mut plan: Plan = serde_json::from_str(&text).expect("plan");
    let err = hearth_installer::install::keys_at_hand(&plan, None).expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("pool rpool is encrypted and this unattended install has no key for it"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    plan.secrets.insert(
        "zfs-passphrase:rpool".into(),
        "correct horse battery".into(),
    );
    hearth_installer::install::keys_at_hand(&plan, None)
        .expect("with the passphrase, tank's key is made on the target");
    let tank = plan
        .pools
        .iter_mut()
        .find(|p| p.name == "tank")
        .expect("tank");
    tank.action = hearth_installer::plan::PoolAction::Import;
    let err = hearth_installer::install::keys_at_hand(&plan, None)
        .expect_err("a kept pool needs its key");
    assert!(
        format!("{err:#}")
            .contains("give key-file (a raw 32-byte key), or install from the recovery kit"),
        "{err:#}"
    );
}
