//! `docker top`: the processes of a running container, found through its cgroup and shown as
//! `ps -ef` shows them (read from /proc), or through the host's `ps` with other arguments.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use berth_api::container::ContainerTop;

/// The processes among `pids`, as `ps` with `ps_args` ("-ef" when empty) lists them.
pub fn top(pids: &[i32], ps_args: &str) -> Result<ContainerTop> {
    if ps_args.is_empty() || ps_args == "-ef" {
        return Ok(from_proc(pids));
    }
    from_ps(pids, ps_args)
}

const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

fn from_proc(pids: &[i32]) -> ContainerTop {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100)
        .max(1) as u64;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut processes = Vec::new();
    for &pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command sits in parentheses and may hold spaces: the fields follow the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |index: usize| fields.get(index).copied().unwrap_or("0");
        let ppid = field(1);
        let cpu_ticks =
            field(11).parse::<u64>().unwrap_or(0) + field(12).parse::<u64>().unwrap_or(0);
        let seconds = cpu_ticks / ticks;
        let time = format!(
            "{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next().map(str::to_owned))
            })
            .unwrap_or_default();
        let user = passwd
            .lines()
            .find(|line| line.split(':').nth(2) == Some(uid.as_str()))
            .and_then(|line| line.split(':').next())
            .map_or(uid.clone(), str::to_owned);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&cmdline)
            .split('\0')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        processes.push(vec![
            user,
            pid.to_string(),
            ppid.to_owned(),
            "0".to_owned(),
            "-".to_owned(),
            "?".to_owned(),
            time,
            command,
        ]);
    }
    ContainerTop {
        titles: TITLES.iter().map(|title| (*title).to_owned()).collect(),
        processes,
    }
}

/// Runs the host's `ps` with `ps_args` and keeps the rows of `pids`, as dockerd does.
fn from_ps(pids: &[i32], ps_args: &str) -> Result<ContainerTop> {
    let output = std::process::Command::new("ps")
        .args(ps_args.split_whitespace())
        .output()
        .context("cannot run ps")?;
    if !output.status.success() {
        bail!(
            "ps {ps_args}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<String> = header.split_whitespace().map(str::to_owned).collect();
    let Some(pid_column) = titles.iter().position(|title| title == "PID") else {
        bail!("ps {ps_args}: its output has no PID column");
    };
    let wanted: HashSet<String> = pids.iter().map(i32::to_string).collect();
    let columns = titles.len();
    // The last column (the command) keeps the rest of the line, spaces and all.
    let processes = lines
        .filter_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() < columns {
                return None;
            }
            let (head, tail) = parts.split_at(columns - 1);
            let mut fields: Vec<String> = head.iter().map(|part| (*part).to_owned()).collect();
            fields.push(tail.join(" "));
            wanted.contains(&fields[pid_column]).then_some(fields)
        })
        .collect();
    Ok(ContainerTop { titles, processes })
}
