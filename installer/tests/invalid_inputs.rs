//! Each invalid input stops with messages naming file, line:column, key and
//! what is allowed. The full output is pinned in a golden file next to the
//! input; the phrase given here must appear in it, so that a rewrite of the
//! golden files cannot hide a missing message.

mod common;

use std::fs;
use std::path::Path;

use hearth_installer::load;
use hearth_installer::prepare::{plan_from_files, read_inventory};

fn expect(case: &Path, output: String, phrase: &str) {
    common::golden(case.with_extension("err"), &output);
    assert!(
        output.contains(phrase),
        "{}: `{phrase}` not in:\n{output}",
        case.display()
    );
    assert!(
        output.contains(&format!("{}:", case.display())) || output.contains(".toml:"),
        "no file named in:\n{output}"
    );
}

fn profile_case(name: &str, phrase: &str) {
    let case = Path::new("tests/invalid/profiles").join(format!("{name}.toml"));
    let err = match load::profile(&case) {
        Ok(_) => panic!("{} was accepted", case.display()),
        Err(problems) => format!("{problems}\n"),
    };
    expect(&case, err, phrase);
}

fn answer_case(name: &str, phrase: &str) {
    let case = Path::new("tests/invalid/answers").join(format!("{name}.toml"));
    let profile = load::profile(Path::new("../profiles/homelab.toml")).expect("homelab profile");
    let err = match load::answer(&case, &profile.value) {
        Ok(_) => panic!("{} was accepted", case.display()),
        Err(problems) => format!("{problems}\n"),
    };
    expect(&case, err, phrase);
}

/// The first line names the profile and the fixture machine.
fn plan_case(name: &str, phrase: &str) {
    let case = Path::new("tests/invalid/plans").join(format!("{name}.toml"));
    let text = fs::read_to_string(&case).expect("case file");
    let header = text.lines().next().unwrap_or_default();
    let (profile, machine) = header
        .trim_start_matches("# profile: ")
        .split_once(", machine: ")
        .expect("header: # profile: P, machine: M");
    let inventory = Path::new("tests/fixtures/machines")
        .join(machine)
        .join("inventory.json");
    let inventory = read_inventory(&inventory).expect("fixture inventory");
    let err = match plan_from_files(Path::new(profile), Some(&case), &inventory) {
        Ok(_) => panic!("{} was planned", case.display()),
        Err(problems) => format!("{problems}\n"),
    };
    expect(&case, err, phrase);
}

macro_rules! cases {
    ($kind:ident: $($name:ident = $file:literal => $phrase:literal;)*) => {
        mod $kind {
            $(
                #[test]
                fn $name() {
                    super::$kind($file, $phrase);
                }
            )*
        }
    };
}

cases! { profile_case:
    toml_syntax = "toml-syntax" => "invalid TOML";
    unknown_top_key = "unknown-top-key" => "colour: unknown key; allowed: name, description, extends";
    unknown_nested_keys = "unknown-nested-keys" => "storage.pools[1].redundancy: unknown key";
    wrong_type = "wrong-type" => "storage.pools[1].ashift: invalid type";
    bad_enum = "bad-enum" => "unknown variant `raid5`, expected one of";
    replication_target = "replication-target" => "services.replication[0].target: `tank/backups` is made by the profile";
    mirror_one_disk = "mirror-one-disk" => "a mirror vdev needs at least 2 disks, this one has 1";
    raidz2_three_disks = "raidz2-three-disks" => "a raidz2 vdev needs at least 4 disks, this one has 3";
    vdev_width_uneven = "vdev-width-uneven" => "10 disks do not split into vdevs of 4";
    same_disk_two_pools = "same-disk-two-pools" => "disk `ata-SSD_0001` is also claimed by pool `rpool`";
    duplicate_dataset = "duplicate-dataset" => "dataset `tank/share` is defined twice";
    duplicate_pool = "duplicate-pool" => "pool `rpool` is defined twice";
    share_outside_datasets = "share-outside-datasets" => "/srv/media is on no dataset of the profile; allowed: a path below";
    export_outside_datasets = "export-outside-datasets" => "/export/media is on no dataset of the profile";
    share_on_kept_state = "share-on-kept-state" => "/var/lib/hearth/kept is on no dataset of the profile";
    dataset_named_state = "dataset-named-state" => "`tank/hearth` is where Hearth keeps the server's state";
    port_collision = "port-collision" => "tcp port 8000 is already used by syncthing of admin";
    key_file_in_profile = "key-file-in-profile" => "a key is one machine's, not a profile's";
    root_key_generated = "root-key-generated" => "the root pool's key cannot be stored on the pool it unlocks";
    no_root_pool = "no-root-pool" => "exactly one pool must have role = \"root\"; found 0";
    ashift_out_of_range = "ashift-out-of-range" => "8 is out of range; allowed: 9 to 16";
    bad_hostname = "bad-hostname" => "system.hostname: must be 1 to 63 letters, digits or dashes";
    care_values = "care-values" => "alerts.webhook.url: must be an http:// or https:// URL";
    plaintext_password = "plaintext-password" => "plain text is never accepted";
    bad_ssh_key = "bad-ssh-key" => "system.users[0].ssh-keys[0]: not an OpenSSH public key";
    static_without_address = "static-without-address" => "static addressing needs `address`";
    bad_size = "bad-size" => "invalid size `10 potatoes`";
    min_size_above_max = "min-size-above-max" => "min-size 8T is larger than max-size 4T";
    proxmox_on_debian = "proxmox-on-debian" => "proxmox needs base = \"proxmox\"";
    proxmox_without_key = "proxmox-without-key" => "needs a [proxmox] section with key-sha256";
    proxmox_bad_key = "proxmox-bad-key" => "proxmox.key-sha256: must be 64 hexadecimal digits";
    proxmox_without_lan = "proxmox-without-lan" => "services.firewall.lan: base = \"proxmox\" opens the web UI (8006)";
    dataset_unknown_pool = "dataset-unknown-pool" => "no pool `data` in storage.pools; allowed: rpool, tank";
    unknown_share_user = "unknown-share-user" => "no user `bob` in system.users; allowed: admin";
    bad_wireguard_key = "bad-wireguard-key" => "not a WireGuard key";
    bad_peer_name = "bad-peer-name" => "use letters, digits, dots, dashes and underscores";
    bad_recordsize = "bad-recordsize" => "must be a power of two from 512 to 16M";
    unsupported_suite = "unsupported-suite" => "`bookworm` is not supported; allowed: trixie";
    docker_dataset_missing = "docker-dataset-missing" => "no dataset `rpool/docker`";
    extends_missing = "extends-missing" => "no profile `no-such-profile`";
    extends_two_levels = "extends-two-levels" => "only one level of layering is allowed";
    // Safe inputs, by class. Verbatim strings that would write lines of their own:
    inject_share_name = "inject-share-name" => "services.samba.shares[0].name: must be 1 to 28 letters";
    inject_share_global = "inject-share-global" => "not global, homes, printers";
    inject_share_path = "inject-share-path" => "services.samba.shares[0].path: must be an absolute path whose parts hold";
    inject_workgroup = "inject-workgroup" => "services.samba.workgroup: must be a NetBIOS name";
    inject_nfs_options = "inject-nfs-options" => "is not an exports(5) option";
    inject_replication_schedule = "inject-replication-schedule" => "services.replication[0].schedule: must be a systemd calendar event";
    inject_replication_target = "inject-replication-target" => "a remote target is user@host:pool/dataset";
    inject_restic_repository = "inject-restic-repository" => "services.cloud-backup.repository: must be a restic repository";
    inject_restic_paths = "inject-restic-paths" => "services.cloud-backup.schedule: must be a systemd calendar event";
    inject_compose_file = "inject-compose-file" => "services.docker.apps[0].compose-file: must be an absolute path";
    inject_domain_keymap = "inject-domain-keymap" => "system.keymap: must be XKB layout names";
    inject_interface = "inject-interface" => "network.interface: allowed:";
    inject_wireguard_endpoint = "inject-wireguard-endpoint" => "services.wireguard.endpoint: must be a DNS name, an IPv4 or an IPv6 address";
    inject_authorized_key = "inject-authorized-key" => "not an OpenSSH public key on one line";
    // Paths that escape:
    escape_share_dotdot = "escape-share-dotdot" => "no empty, `.` or `..` part";
    escape_app_name = "escape-app-name" => "services.docker.apps[0].name: must be 1 to 63 lowercase letters";
    escape_mountpoint = "escape-mountpoint" => "/etc belongs to the operating system";
    escape_extends = "escape-extends" => "is not a profile name; allowed: the name";
    // The firewall, ports and addresses (IPv6 is accepted where IPv4 is):
    firewall_port_zero = "firewall-port-zero" => "services.ssh.port: 0 is not a port; allowed: 1 to 65535";
    app_port_zero = "app-port-zero" => "services.docker.apps[0].ports[0]: 0 is not a port";
    // Accounts:
    receive_user_sshd = "receive-user-sshd" => "`sshd` is an account of the system";
    unknown_group = "unknown-group" => "no group `wheel` on the installed system";
    hash_with_colon = "hash-with-colon" => "system.users[1].password: must be a crypt hash";
    root_login_without_passwords = "root-login-password-without-passwords" => "needs [services.ssh] password-authentication = true";
    // Plans that would fail after the wipe:
    remote_unlock_data_pool = "remote-unlock-data-pool" => "only the root pool, with key = \"passphrase\", is unlocked in the initramfs";
    pool_property_owned = "pool-property-owned" => "`ashift` is not set here; use the pool's `ashift` key";
}

cases! { answer_case:
    unknown_user = "unknown-user" => "no user `bob` in profile `homelab`; allowed: admin";
    plaintext_password = "plaintext-password" => "root-password: must be a crypt hash";
    mok_password_yescrypt = "mok-password-yescrypt" => "mok-password-hash: must be a SHA-512 crypt hash ($6$...)";
    samba_plaintext = "samba-plaintext" => "32 hex digits";
    zfs_receive_bad_key = "zfs-receive-bad-key" => "zfs-receive-ssh-keys[0]";
    passphrase_short = "passphrase-short" => "a ZFS passphrase is 8 to 512 bytes; this one is 5";
    passphrase_unencrypted_pool = "passphrase-unencrypted-pool" => "this pool is not encrypted with key = \"passphrase\" in the profile";
    key_file_escape = "key-file-escape" => "must be a file name relative to the answer's folder";
    key_file_wrong_size = "key-file-wrong-size" => "holds 16 bytes; a raw ZFS key is exactly 32 bytes";
    key_file_absent = "key-file-absent" => "cannot read tests/invalid/answers/absent.key";
    keep_with_disks = "keep-with-disks" => "a kept pool is found by its labels and never changed";
    pool_not_in_profile = "pool-not-in-profile" => "no pool `scratch` in profile `homelab`";
    keep_root_pool = "keep-root-pool" => "the root pool is always made anew";
    unknown_key = "unknown-key" => "disks.\"/dev/sda\".erase: unknown key; allowed: wipe";
    bad_hostname = "bad-hostname" => "hostname: must be 1 to 63 letters";
    alert_secrets = "alert-secrets" => "smtp-password: must be one line of printable characters without \" or \\";
    alert_login_without_password = "alert-login-without-password" => "[alerts.email] user logs in at the relay: give its password here";
    same_disk_two_pools = "same-disk-two-pools" => "disk `/dev/sdb` is also given to pool `rpool`";
    topology_too_wide = "topology-too-wide" => "pools.rpool.topology: a raidz2 vdev needs at least 4 disks; this pool would get 2";
    inject_values = "inject-values" => "cloud-backup-repository: must be a restic repository";
    report_injection = "report-injection" => "report.fingerprint: must be a SHA-256 fingerprint";
    kit_path = "kit-path" => "recovery-kit: must be a file name beside the answer";
    kit_http_unpinned = "kit-http-unpinned" => "an http:// kit needs recovery-kit-sha256";
    kit_passphrase_alone = "kit-passphrase-alone" => "recovery-kit-passphrase: given without recovery-kit";
}

cases! { plan_case:
    wipe_unknown_disk = "wipe-unknown-disk" => "no disk `ata-NO_SUCH_DISK_123` on this machine; allowed:";
    install_to_boot_medium = "install-to-boot-medium" => "is the medium Hearth is running from";
    keep_missing_pool = "keep-missing-pool" => "no disk holds a pool `tank`; pools found: none";
    keep_and_wipe = "keep-and-wipe" => "which the answer keeps; it cannot also be wiped";
    remote_unlock_without_keys = "remote-unlock-without-keys" => "remote unlock logs in with root's SSH keys only, and there are none";
    remote_unlock_ipv6 = "remote-unlock-ipv6" => "the initramfs's ipconfig takes no IPv6";
    pinned_disk_with_data = "pinned-disk-with-data" => "holds ZFS pool `archive` (exported)";
    not_enough_disks = "not-enough-disks" => "pool `backup` needs 4 data disk(s) matching (kind = hdd); 3 found";
    ashift_below_sector = "ashift-below-sector" => "has 4096-byte sectors; allowed: ashift >= 12";
    wipe_ambiguous_serial = "wipe-ambiguous-serial" => "`WD-WX12D00000` names 2 disks on this machine";
    pinned_read_only = "pinned-read-only" => "is read-only; it cannot be installed to";
    pinned_tiny_disk = "pinned-tiny-disk" => "is too small for this layout; allowed: at least 4.5 GiB";
}

/// A disk's model string with newlines cannot add lines to the preview.
#[test]
fn a_disk_model_cannot_add_lines_to_the_preview() {
    let inventory =
        read_inventory(Path::new("tests/fixtures/machines/twins/inventory.json")).expect("fixture");
    let plan = plan_from_files(Path::new("../profiles/minimal.toml"), None, &inventory)
        .expect("minimal plans on twins");
    let preview = hearth_installer::plan::render(&plan);
    let headers = preview
        .lines()
        .filter(|l| l.starts_with("Disks left untouched"))
        .count();
    assert_eq!(headers, 1, "{preview}");
    assert!(
        preview.contains("Samsung SSD\\nDisks left untouched"),
        "{preview}"
    );
}

/// The installed system's copy of the plan holds no password hash: those
/// live in /etc/shadow and Samba's database only.
#[test]
fn the_installed_plan_keeps_no_hash() {
    let dir = Path::new("tests/fixtures/machines/ssd2-hdd4");
    let inventory = read_inventory(&dir.join("inventory.json")).expect("fixture");
    let plan = plan_from_files(
        Path::new("../profiles/homelab.toml"),
        Some(&dir.join("answer.toml")),
        &inventory,
    )
    .expect("plan");
    let full = serde_json::to_string(&plan).expect("json");
    assert!(full.contains("$6$hearthfixture$"), "the live plan has it");
    let kept = serde_json::to_string(&plan.without_secrets()).expect("json");
    assert!(!kept.contains("$6$") && !kept.contains("$y$"), "{kept}");
    assert!(kept.contains("\"password\":\"kept\""), "{kept}");
}
