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
        let profile_file = work.join("profile.toml");
        let iso_arg = iso.display().to_string();
        extract(&runner, &iso_arg, medium::PROFILE, &profile_file)?;
        let profile = hearth_services::load_profile(&profile_file)
            .map_err(|p| anyhow!("the ISO's profile: {p}"))?;
        hearth_schema::load::answer(answer, &profile.value).map_err(|p| anyhow!("{p}"))?;
        let _ = fs::remove_file(output);
        let out = output.display().to_string();
        let answer_arg = answer.display().to_string();
        let answer_at = format!("/{}", medium::ANSWER);
        let mut args = vec![
            "-indev",
            &iso_arg,
            "-outdev",
            &out,
            "-boot_image",
            "any",
            "replay",
            "-map",
            &answer_arg,
            &answer_at,
        ];
        let extra: Vec<(String, String)> = beside
            .iter()
            .map(|file| {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                let dir = Path::new(medium::ANSWER).parent().unwrap_or(Path::new(""));
                (
                    file.display().to_string(),
                    format!("/{}", dir.join(&*name).display()),
                )
            })
            .collect();
        for (from, to) in &extra {
            args.extend(["-map", from.as_str(), to.as_str()]);
        }
        args.push("-commit");
        runner.run("xorriso", &args)?;
        Ok(())
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
        let iso_arg = iso.display().to_string();
        let profile_file = work.join("profile.toml");
        extract(&runner, &iso_arg, medium::PROFILE, &profile_file)?;
        let profile = hearth_services::load_profile(&profile_file)
            .map_err(|p| anyhow!("the ISO's profile: {p}"))?;
        let name = &profile.value.name;
        let cfg = work.join("grub.cfg");
        fs::write(&cfg, crate::boot::grub_cfg(name, name, args))?;
        let _ = fs::remove_file(output);
        let (out, cfg_arg) = (output.display().to_string(), cfg.display().to_string());
        runner.run(
            "xorriso",
            &[
                "-indev",
                &iso_arg,
                "-outdev",
                &out,
                "-boot_image",
                "any",
                "replay",
                "-map",
                &cfg_arg,
                "/boot/grub/grub.cfg",
                "-commit",
            ],
        )?;
        Ok(())
    })();
    fs::remove_dir_all(&work).ok();
    result
}

fn extract(runner: &Runner, iso: &str, path: &str, to: &Path) -> Result<()> {
    let from = format!("/{path}");
    let to = to.display().to_string();
    runner.run(
        "xorriso",
        &["-osirrox", "on", "-indev", iso, "-extract", &from, &to],
    )?;
    Ok(())
}
