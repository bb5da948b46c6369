//! What each ESP holds besides the files: a grub.cfg with one entry per
//! environment, and GRUB's environment block with the default, a trial of
//! a new default and its fallback. GRUB itself turns a trial that never
//! reported back into the fallback (it has no arithmetic, so the count is
//! a state: "new", then "booting", then fallen back).

/// One environment in the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub name: String,
    /// When it was made, as the menu shows it.
    pub made: String,
    pub cmdline: String,
}

pub const ENV_BLOCK: &str = "grub/grubenv";
pub const MENU: &str = "grub/grub.cfg";
const BLOCK_SIZE: usize = 1024;
const HEADER: &str = "# GRUB Environment Block\n";
/// What a trial boot adds: the deadline timer's condition, and a reboot
/// rather than a shell when the kernel or the initramfs gives up.
const TRIAL_ARGS: &str = "hearth.trial panic=30";

/// Where an environment's kernel and initrd live on every ESP.
pub fn env_dir(name: &str) -> String {
    format!("env/{name}")
}

/// The ESP's menu, entries newest first; it finds the ESP by its own UUID.
pub fn grub_cfg(esp_uuid: &str, entries: &[MenuEntry]) -> String {
    let serial = hearth_system::grub::SERIAL;
    let mut out = format!(
        r#"# Written by Hearth (hearth be sync); the default is in grubenv.
{serial}set timeout=5
search --no-floppy --fs-uuid --set=root {esp_uuid}
if [ -s /{ENV_BLOCK} ]; then load_env -f /{ENV_BLOCK}; fi
set hearth_trying=""
if [ "${{hearth_trial}}" = "booting" -a -n "${{hearth_fallback}}" ]; then
    # The last trial of the default never reached multi-user.
    set hearth_failed="${{hearth_default}}"
    set hearth_default="${{hearth_fallback}}"
    set hearth_trial=""
    save_env -f /{ENV_BLOCK} hearth_default hearth_trial hearth_failed
elif [ "${{hearth_trial}}" = "new" ]; then
    set hearth_trial="booting"
    save_env -f /{ENV_BLOCK} hearth_trial
    set hearth_trying="${{hearth_default}}"
fi
export hearth_trying
set default="${{hearth_default}}"
"#
    );
    for entry in entries {
        out.push_str(&menu_entry(entry));
    }
    out
}

fn menu_entry(entry: &MenuEntry) -> String {
    let MenuEntry {
        name,
        made,
        cmdline,
    } = entry;
    let dir = env_dir(name);
    format!(
        r#"
menuentry "Hearth {name} ({made})" --id {name} {{
    set trial=""
    if [ "${{hearth_trying}}" = "{name}" ]; then set trial="{TRIAL_ARGS}"; fi
    linux /{dir}/vmlinuz {cmdline} console=tty1 console=ttyS0,115200n8 ${{trial}}
    initrd /{dir}/initrd.img
}}
"#
    )
}

/// The boot state every ESP's environment block holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootState {
    /// The environment booted when nobody picks another.
    pub default: String,
    /// Booted instead when a trial of the default fails.
    pub fallback: String,
    /// "" (settled), "new" (the next boot tries the default), "booting"
    /// (a trial started and has not reported back).
    pub trial: String,
    /// The environment whose trial failed, until the next change.
    pub failed: String,
}

impl BootState {
    /// A new default; a trial when `fallback` is where to go if it fails.
    pub fn activate(default: &str, fallback: Option<&str>) -> BootState {
        BootState {
            default: default.into(),
            fallback: fallback.unwrap_or_default().into(),
            trial: if fallback.is_some() { "new" } else { "" }.into(),
            failed: String::new(),
        }
    }

    /// GRUB's environment block: exactly 1024 bytes, '#'-padded.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = String::from(HEADER);
        for (key, value) in self.fields() {
            text.push_str(&format!("hearth_{key}={value}\n"));
        }
        let mut bytes = text.into_bytes();
        bytes.resize(BLOCK_SIZE.max(bytes.len()), b'#');
        bytes
    }

    pub fn decode(text: &str) -> BootState {
        let mut state = BootState::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let slot = match key {
                "hearth_default" => &mut state.default,
                "hearth_fallback" => &mut state.fallback,
                "hearth_trial" => &mut state.trial,
                "hearth_failed" => &mut state.failed,
                _ => continue,
            };
            *slot = value.to_string();
        }
        state
    }

    fn fields(&self) -> [(&str, &str); 4] {
        [
            ("default", &self.default),
            ("fallback", &self.fallback),
            ("trial", &self.trial),
            ("failed", &self.failed),
        ]
    }
}

/// The state once `running` is up in multi-user, from what each ESP says
/// (the one GRUB booted from wrote last; the others still hold the state
/// from before the boot).
pub fn after_boot(states: &[BootState], running: &str) -> BootState {
    // GRUB fell back on the ESP it booted from: that word wins.
    if let Some(fell) = states
        .iter()
        .find(|s| !s.failed.is_empty() && s.default == running && s.trial.is_empty())
    {
        return fell.clone();
    }
    let base = states
        .iter()
        .find(|s| s.trial == "booting")
        .or(states.first())
        .cloned()
        .unwrap_or_default();
    if base.default == running || base.default.is_empty() {
        return BootState {
            default: running.into(),
            trial: String::new(),
            ..base
        };
    }
    // Another entry was picked by hand: the default's trial is still to come.
    let trial = if base.trial.is_empty() { "" } else { "new" };
    BootState {
        trial: trial.into(),
        ..base
    }
}

#[cfg(test)]
mod tests;
