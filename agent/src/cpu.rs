//! CPU use of the notebook's work, sampled from `/proc`: the CPU time (user + system) of the counted
//! processes between two checks, over the wall time between them, in percent of one core.
//!
//! Counted are the processes of the notebook user (`NBF_PROCESS_USER`, `ec2-user` on SageMaker), except the
//! agent itself and the Jupyter server (a busy kernel is already Jupyter activity). With
//! `NBF_PROCESS_ROOT_PID` only that process and its descendants count: a test runs as the same user as
//! everything else on its machine, and so scopes the count to the job it starts.
//! A process that ends between two checks takes its CPU time with it; one that starts counts in full.

use std::collections::HashMap;
use std::time::Instant;

/// Linux reports CPU times in clock ticks; `USER_HZ` is 100 on every architecture Linux runs notebooks on.
const TICKS_PER_SECOND: f64 = 100.0;

/// Which processes count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Processes owned by this uid.
    User(u32),
    /// This process and its descendants.
    Tree(u32),
}

#[derive(Debug)]
pub struct CpuSampler {
    scope: Scope,
    previous: Option<(Instant, u64)>,
}

/// One `/proc/<pid>/stat` line: parent pid and utime + stime in ticks. The command name (field 2) is in
/// parentheses and may hold spaces or parentheses itself, so fields are counted after the last `)`.
pub fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), …, utime (14), stime (15).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// The real uid from `/proc/<pid>/status`.
pub fn parse_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Whether a command line is the Jupyter server's (not a kernel's).
pub fn is_jupyter_server(cmdline: &str) -> bool {
    let words: Vec<&str> = cmdline.split(['\0', ' ']).collect();
    words.iter().any(|w| w.ends_with("jupyter-notebook") || w.ends_with("jupyter-lab") || w.ends_with("jupyter-server"))
        || words.windows(2).any(|w| w[0].ends_with("jupyter") && matches!(w[1], "notebook" | "lab" | "server"))
}

/// The uid of a user name, from `/etc/passwd`.
pub fn uid_of(user: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == user).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

struct Process {
    ppid: u32,
    ticks: u64,
    uid: Option<u32>,
    jupyter: bool,
}

fn processes() -> HashMap<u32, Process> {
    let mut all = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return all };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let dir = entry.path();
        // A process may end while it is read: it is then simply not counted.
        let Some((ppid, ticks)) = std::fs::read_to_string(dir.join("stat")).ok().as_deref().and_then(parse_stat) else {
            continue;
        };
        let uid = std::fs::read_to_string(dir.join("status")).ok().as_deref().and_then(parse_uid);
        let jupyter = std::fs::read(dir.join("cmdline")).is_ok_and(|c| is_jupyter_server(&String::from_utf8_lossy(&c)));
        all.insert(pid, Process { ppid, ticks, uid, jupyter });
    }
    all
}

/// The ticks of the processes in scope, the agent and the Jupyter server left out.
fn counted_ticks(all: &HashMap<u32, Process>, scope: &Scope, agent: u32) -> u64 {
    let in_tree = |mut pid: u32, root: u32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match all.get(&pid) {
                Some(p) if p.ppid != pid && p.ppid != 0 => pid = p.ppid,
                _ => return false,
            }
        }
        false
    };
    all.iter()
        .filter(|(pid, p)| **pid != agent && !p.jupyter)
        .filter(|(pid, p)| match scope {
            Scope::User(uid) => p.uid == Some(*uid),
            Scope::Tree(root) => in_tree(**pid, *root),
        })
        .map(|(_, p)| p.ticks)
        .sum()
}

impl CpuSampler {
    pub fn new(scope: Scope) -> Self {
        CpuSampler { scope, previous: None }
    }

    /// Percent of one core used since the previous sample; `None` on the first one.
    pub fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let ticks = counted_ticks(&processes(), &self.scope, std::process::id());
        let previous = self.previous.replace((now, ticks));
        let (then, before) = previous?;
        let seconds = now.duration_since(then).as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        let used = ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND;
        Some(100.0 * used / seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_and_parentheses_in_the_name_parses() {
        let line = "4242 (my (odd) job) R 17 4242 17 0 -1 4194304 100 0 0 0 250 30 0 0 20 0 1 0 1000 0 0";
        assert_eq!(parse_stat(line), Some((17, 280)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_real_uid_is_the_first_of_the_uid_line() {
        assert_eq!(parse_uid("Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\n"), Some(1000));
        assert_eq!(parse_uid("Name:\tx\n"), None);
    }

    #[test]
    fn the_jupyter_server_is_recognised_and_a_kernel_is_not() {
        assert!(is_jupyter_server("/opt/conda/bin/python\0/opt/conda/bin/jupyter-notebook\0--port=8443"));
        assert!(is_jupyter_server("python /usr/bin/jupyter lab --no-browser"));
        assert!(!is_jupyter_server("python\0-m\0ipykernel_launcher\0-f\0/run/kernel.json"));
        assert!(!is_jupyter_server("python train.py"));
    }

    #[test]
    fn a_busy_child_is_counted_and_a_sleeping_one_is_not() {
        let measure = |script: &str| {
            let mut child = std::process::Command::new("sh").args(["-c", script]).spawn().expect("sh runs");
            let mut sampler = CpuSampler::new(Scope::Tree(child.id()));
            assert_eq!(sampler.sample(), None, "the first sample has nothing to compare with");
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let percent = sampler.sample().expect("a second sample");
            child.kill().expect("killed");
            child.wait().expect("reaped");
            percent
        };
        let busy = measure("while :; do :; done");
        assert!(busy > 50.0, "a busy loop uses most of a core: {busy}");
        let sleeping = measure("sleep 30");
        assert!(sleeping < 5.0, "a sleeping job uses none: {sleeping}");
    }
}
