//! `image-builder inject-answer`: put an answer file into an existing ISO
//! (or replace the one it has) in seconds: xorriso rewrites the ISO with the
//! same boot equipment, no layer is rebuilt. The answer is checked against
//! the profile inside the ISO first.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, Result};
use hearth_system::medium;
use hearth_system::runner::Runner;

pub fn inject(iso: &Path, answer: &Path, output: &Path) -> Result<()> {
    inject_with(iso, answer, &[], output)
}

/// As `inject`, with `beside` laid next to the answer (a recovery kit).
pub fn inject_with(iso: &Path, answer: &Path, beside: &[&Path], output: &Path) -> Result<()> {
    let runner = Runner::new(None, false)?;
    let work = std::env::temp_dir().join(format!("hearth-inject-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let result = (|| {
        let profile = iso_profile(&runner, iso, &work)?;
        hearth_schema::load::answer(answer, &profile).map_err(|p| anyhow!("{p}"))?;
        let mut maps = vec![(answer.to_path_buf(), format!("/{}", medium::ANSWER))];
        for file in beside {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let dir = Path::new(medium::ANSWER).parent().unwrap_or(Path::new(""));
            maps.push((
                file.to_path_buf(),
                format!("/{}", dir.join(&*name).display()),
            ));
        }
        remap(&runner, iso, output, &maps)
    })();
    fs::remove_dir_all(&work).ok();
    result
}

/// `image-builder kernel-args`: both boot menus of `iso` get `args` after
/// the live system's own, so one ISO can point a fleet at its answer
/// server. Each argument is checked for GRUB's line first.
pub fn kernel_args(iso: &Path, args: &[String], output: &Path) -> Result<()> {
    crate::boot::check_extra(args)?;
    let runner = Runner::new(None, false)?;
    let work = std::env::temp_dir().join(format!("hearth-kernel-args-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let result = (|| {
        let name = &iso_profile(&runner, iso, &work)?.name;
        let cfg = work.join("grub.cfg");
        fs::write(&cfg, crate::boot::grub_cfg(name, name, args))?;
        remap(&runner, iso, output, &[(cfg, "/boot/grub/grub.cfg".into())])
    })();
    fs::remove_dir_all(&work).ok();
    result
}

/// `output`: `iso` with the same boot equipment and `maps` (host file, path
/// on the ISO) laid in, in seconds: no layer is rebuilt.
fn remap(
    runner: &Runner,
    iso: &Path,
    output: &Path,
    maps: &[(std::path::PathBuf, String)],
) -> Result<()> {
    let _ = fs::remove_file(output);
    let mut args: Vec<String> = [
        "-indev",
        &iso.display().to_string(),
        "-outdev",
        &output.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(["-boot_image", "any", "replay"].map(String::from));
    for (from, to) in maps {
        args.extend(["-map".into(), from.display().to_string(), to.clone()]);
    }
    args.push("-commit".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("xorriso", &args)?;
    Ok(())
}

/// The profile the ISO was built from (its merged copy), checked.
fn iso_profile(
    runner: &Runner,
    iso: &Path,
    work: &Path,
) -> Result<hearth_schema::profile::Profile> {
    let to = work.join("profile.toml");
    let (iso_arg, from, to_arg) = (
        iso.display().to_string(),
        format!("/{}", medium::PROFILE),
        to.display().to_string(),
    );
    runner.run(
        "xorriso",
        &[
            "-osirrox", "on", "-indev", &iso_arg, "-extract", &from, &to_arg,
        ],
    )?;
    let loaded =
        hearth_services::load_profile(&to).map_err(|p| anyhow!("the ISO's profile: {p}"))?;
    Ok(loaded.value)
}
