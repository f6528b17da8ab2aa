//! Facts about the process and host that the four-letter words print
//! (`envi`, mntr's file descriptor counts). Reads /proc, so it lives here.

use crate::proto::fourlw::EnvInfo;

/// Best-effort environment facts from the process environment and /proc (`envi`).
pub fn detect_env() -> EnvInfo {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut host_name = read("/proc/sys/kernel/hostname");
    if host_name.is_empty() {
        host_name = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    }
    let os_name = match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        "macos" => "Mac OS X".to_string(),
        "windows" => "Windows".to_string(),
        o => o.to_string(),
    };
    let os_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64".to_string(),
        a => a.to_string(),
    };
    let meminfo = read("/proc/meminfo");
    let status = read("/proc/self/status");
    let kb = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    EnvInfo {
        host_name,
        os_name,
        os_arch,
        os_version: read("/proc/sys/kernel/osrelease"),
        user_name: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| user_from_passwd(&status)),
        user_home: std::env::var("HOME").unwrap_or_default(),
        user_dir: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        tmp_dir: std::env::temp_dir().display().to_string(),
        memory_free_mb: kb(&meminfo, "MemAvailable:") / 1024,
        memory_max_mb: kb(&meminfo, "MemTotal:") / 1024,
        memory_total_mb: kb(&status, "VmRSS:") / 1024,
    }
}

/// User name of the process's real uid from /etc/passwd ("" if unknown).
fn user_from_passwd(proc_status: &str) -> String {
    let Some(uid) = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
    else {
        return String::new();
    };
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
        .unwrap_or_default()
}

/// Open and maximum file descriptors of this process (Linux /proc; None elsewhere).
pub fn process_fd_counts() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let max = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((open, max))
}
