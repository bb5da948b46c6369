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
        runner.run(
            "xorriso",
            &[
                "-osirrox",
                "on",
                "-indev",
                &iso_arg,
                "-extract",
                &format!("/{}", medium::PROFILE),
                &profile_file.display().to_string(),
            ],
        )?;
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
