//! `hearth answer-server` on the host for fleet scenarios: machines reach
//! it at 10.0.2.2 through QEMU's user network.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

pub struct AnswerServer {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
    pub fingerprint: String,
    /// The netboot folder's port, when one is served.
    pub netboot_port: Option<u16>,
}

/// What the guest's kernel command line needs to reach it.
pub const TOKEN: &str = "hearth-fleet-test-token";

impl AnswerServer {
    /// Starts the server on `dir` (holding server.toml; a token file is
    /// written), checking answers against `profiles`.
    pub fn start(dir: &Path, profiles: &Path, netboot: Option<&Path>) -> Result<AnswerServer> {
        std::fs::write(dir.join("token"), format!("{TOKEN}\n"))?;
        let port = crate::ssh::free_port()?;
        let mut command = Command::new(crate::iso::installer());
        command
            .arg("answer-server")
            .arg(dir)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--name",
                "10.0.2.2",
            ])
            .arg("--profiles")
            .arg(profiles);
        let netboot_port = match netboot {
            Some(folder) => {
                let nb = crate::ssh::free_port()?;
                command.arg("--netboot").arg(folder);
                command.args(["--netboot-listen", &format!("127.0.0.1:{nb}")]);
                Some(nb)
            }
            None => None,
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("answer-server.stderr"))?)
            .spawn()
            .context("starting hearth answer-server")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let fingerprint = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("certificate SHA-256 fingerprint: ")
                    .map(String::from)
            })
            .ok_or_else(|| anyhow!("answer-server printed no fingerprint (see its stderr)"))?;
        std::thread::spawn(move || lines.for_each(drop));
        wait_for_port(port)?;
        Ok(AnswerServer {
            child,
            dir: dir.to_path_buf(),
            port,
            fingerprint,
            netboot_port,
        })
    }

    /// Kernel arguments that make a live system ask this server.
    pub fn kernel_args(&self) -> Vec<String> {
        vec![
            format!("hearth.answer=https://10.0.2.2:{}/answer", self.port),
            format!("hearth.answer-fingerprint={}", self.fingerprint),
            format!("hearth.answer-token={TOKEN}"),
        ]
    }

    /// The answer's [report] table that sends reports back here.
    pub fn report_table(&self) -> String {
        format!(
            "[report]\nurl = \"https://10.0.2.2:{}/report\"\ntoken = \"{TOKEN}\"\nfingerprint = \"{}\"\n",
            self.port, self.fingerprint
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("answer-server.log")).unwrap_or_default()
    }

    /// The reports received, as text, by file name.
    pub fn reports(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("reports")) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = entries
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                (name, std::fs::read_to_string(e.path()).unwrap_or_default())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for AnswerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(anyhow!("answer-server does not listen on {port}"))
}
