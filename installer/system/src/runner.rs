//! Every external command goes through here: logged with its command line,
//! exit status, time and output; a failure carries the command and the tail
//! of what it printed. A dry runner records instead of running.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// How many lines of a failed command's output an error shows.
const TAIL_LINES: usize = 20;

pub struct Runner {
    log: Option<Mutex<File>>,
    dry_run: bool,
    /// Commands a dry run would have run, in order.
    recorded: Mutex<Vec<String>>,
}

impl Runner {
    pub fn new(log: Option<&Path>, dry_run: bool) -> Result<Self> {
        let log = match log {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                use std::os::unix::fs::OpenOptionsExt;
                // Root only: the log names disks, users and paths.
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("opening the log {}", path.display()))?;
                Some(Mutex::new(file))
            }
            None => None,
        };
        Ok(Runner {
            log,
            dry_run,
            recorded: Mutex::new(Vec::new()),
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Writes a line to the log (and to stderr), e.g. a step's start.
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
        self.write_log(&format!("# {text}\n"));
    }

    /// Runs a command to completion; its stdout is returned.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let line = shell_line(program, args);
        if self.dry_run {
            self.recorded.lock().map(|mut r| r.push(line.clone())).ok();
            self.write_log(&format!("$ {line}  (dry run)\n"));
            return Ok(String::new());
        }
        let started = Instant::now();
        let output = capture(program, args, &line)?;
        self.finish(&line, &output, started, true)
    }

    /// Logs a finished command (its output only when `show` says so) and
    /// turns a failure into an error with the tail of what it printed.
    fn finish(
        &self,
        line: &str,
        output: &std::process::Output,
        started: Instant,
        show: bool,
    ) -> Result<String> {
        let elapsed = started.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let status = output
            .status
            .code()
            .map_or("killed".to_string(), |c| c.to_string());
        let shown = if show { stdout.as_str() } else { "" };
        self.write_log(&format!(
            "$ {line}\n[exit {status}, {elapsed:.2}s]\n{shown}{stderr}"
        ));
        if !output.status.success() {
            bail!(
                "`{line}` failed (exit {status}):\n{}",
                tail(&format!("{shown}{stderr}"))
            );
        }
        Ok(stdout)
    }

    /// Runs a command with extra environment variables (credentials, say):
    /// their names are logged, their values never are.
    pub fn run_with_env(
        &self,
        program: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<String> {
        let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
        let line = format!("{} (with {})", shell_line(program, args), names.join(" "));
        let mut cmd = duct::cmd(program, args)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        for (name, value) in env {
            cmd = cmd.env(name, value);
        }
        let started = Instant::now();
        let output = cmd.run().with_context(|| format!("starting `{line}`"))?;
        self.finish(&line, &output, started, false)
    }

    /// Runs a read-only command even in a dry run, and returns its exit code
    /// and stdout without judging them (blkid's "nothing found" is exit 2).
    pub fn query(&self, program: &str, args: &[&str]) -> Result<(Option<i32>, String)> {
        let line = shell_line(program, args);
        let output = capture(program, args, &line)?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let code = output.status.code();
        self.write_log(&format!(
            "$ {line}\n[exit {}]\n{stdout}",
            code.map_or("killed".into(), |c| c.to_string())
        ));
        Ok((code, stdout))
    }

    /// Runs a command whose output is a secret (a private key): the command
    /// and its status are logged, its output never is.
    pub fn run_secret(&self, program: &str, args: &[&str], input: Option<&str>) -> Result<String> {
        self.run_fed(program, args, input, false)
    }

    /// Runs a command with `input` on its stdin, logged as `run` logs.
    pub fn run_with_input(&self, program: &str, args: &[&str], input: &str) -> Result<String> {
        self.run_fed(program, args, Some(input), true)
    }

    fn run_fed(
        &self,
        program: &str,
        args: &[&str],
        input: Option<&str>,
        log_output: bool,
    ) -> Result<String> {
        let line = shell_line(program, args);
        let mut cmd = duct::cmd(program, args)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        if let Some(text) = input {
            cmd = cmd.stdin_bytes(text.as_bytes().to_vec());
        }
        let output = cmd.run().with_context(|| format!("starting `{line}`"))?;
        let code = output.status.code();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let shown = if log_output {
            format!("]\n{stdout}{stderr}")
        } else {
            "; output not logged: secret]\n".to_string()
        };
        self.write_log(&format!(
            "$ {line}\n[exit {}{shown}",
            code.map_or("killed".into(), |c| c.to_string())
        ));
        if !output.status.success() {
            bail!("`{line}` failed: {}", stderr.trim());
        }
        Ok(stdout)
    }

    pub fn recorded(&self) -> Vec<String> {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn write_log(&self, text: &str) {
        if let Some(log) = &self.log {
            if let Ok(mut file) = log.lock() {
                let _ = file.write_all(text.as_bytes());
            }
        }
    }
}

/// Runs to completion with both streams captured, whatever the exit code.
fn capture(program: &str, args: &[&str], line: &str) -> Result<std::process::Output> {
    duct::cmd(program, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("starting `{line}`"))
}

/// `N` bytes from the kernel's random source (host ids, secrets).
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Seconds since the Unix epoch.
pub fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether a program is on PATH (or in /usr/sbin, which a non-root PATH lacks).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        || Path::new("/usr/sbin").join(program).is_file()
}

fn shell_line(program: &str, args: &[&str]) -> String {
    let quote = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_command_and_its_output() {
        let runner = Runner::new(None, false).expect("runner");
        let err = runner
            .run("sh", &["-c", "echo partial; echo broken >&2; exit 3"])
            .expect_err("exit 3 fails");
        let text = format!("{err:#}");
        assert!(
            text.contains("`sh -c 'echo partial; echo broken >&2; exit 3'` failed (exit 3)"),
            "{text}"
        );
        assert!(text.contains("broken"), "{text}");
    }

    #[test]
    fn a_dry_run_records_and_runs_nothing() {
        let runner = Runner::new(None, true).expect("runner");
        runner.run("false", &[]).expect("not run");
        assert_eq!(runner.recorded(), ["false"]);
    }
}
