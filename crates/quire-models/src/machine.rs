//! What this machine offers models: RAM (total and available now) and GPUs with their memory.
//!
//! No new dependency: Linux reads `/proc/meminfo` (bounded by a cgroup v2 memory limit when one applies, as in
//! a container), NVIDIA GPUs come from `nvidia-smi` when it is installed (with a time limit), AMD GPUs from
//! `/sys/class/drm/card*/device/mem_info_vram_*`. macOS reads the total from `sysctl hw.memsize` (its GPU shares
//! that memory). Anything else reports what it cannot know as unknown rather than guessing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A GPU and its memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gpu {
    pub name: String,
    /// "nvidia", "amd", "apple", ...
    pub vendor: String,
    pub vram_total: u64,
    /// Free now, when the platform says.
    pub vram_free: Option<u64>,
    /// Memory shared with the CPU (Apple silicon): it is the same RAM, not extra.
    pub unified: bool,
}

/// RAM and GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Machine {
    pub ram_total: Option<u64>,
    /// Memory new allocations can get now (Linux: MemAvailable, which counts reclaimable page cache).
    pub ram_available: Option<u64>,
    pub gpus: Vec<Gpu>,
    /// How each fact was found, or why it could not be.
    pub notes: Vec<String>,
}

impl Machine {
    /// This machine, now.
    pub fn detect() -> Machine {
        let mut m = Machine::default();
        detect_ram(&mut m);
        match nvidia_smi() {
            Ok(gpus) => m.gpus.extend(gpus),
            Err(note) => m.notes.push(note),
        }
        m.gpus.extend(amd_gpus(Path::new("/sys/class/drm")));
        if cfg!(target_os = "macos")
            && cfg!(target_arch = "aarch64")
            && let Some(total) = m.ram_total
        {
            // Metal can use about two thirds to three quarters of unified memory by default.
            m.gpus.push(Gpu {
                name: "Apple GPU (unified memory)".into(),
                vendor: "apple".into(),
                vram_total: total / 4 * 3,
                vram_free: None,
                unified: true,
            });
        }
        m
    }

    /// "none found", or each GPU with its memory.
    pub fn gpu_summary(&self) -> String {
        if self.gpus.is_empty() {
            return "none found".into();
        }
        self.gpus
            .iter()
            .map(|g| match g.vram_free {
                Some(free) => format!("{} ({}: {} free of {})", g.name, g.vendor, human(free), human(g.vram_total)),
                None => format!("{} ({}: {})", g.name, g.vendor, human(g.vram_total)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "23.4 GiB available of 25.3 GiB", or what is known.
    pub fn ram_summary(&self) -> String {
        match (self.ram_available, self.ram_total) {
            (Some(a), Some(t)) => format!("{} available of {}", human(a), human(t)),
            (None, Some(t)) => format!("{} (available memory unknown)", human(t)),
            (Some(a), None) => format!("{} available", human(a)),
            (None, None) => "unknown".into(),
        }
    }
}

/// Bytes for people: "92.1 MiB", "1.4 GiB".
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.0} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn detect_ram(m: &mut Machine) {
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        let (total, available) = parse_meminfo(&text);
        m.ram_total = total;
        m.ram_available = available;
        if let Some((limit, used)) = cgroup_limit(Path::new("/sys/fs/cgroup"))
            && m.ram_total.is_none_or(|t| limit < t)
        {
            m.notes.push(format!("memory limited to {} by this process's cgroup", human(limit)));
            m.ram_total = Some(limit);
            let left = limit.saturating_sub(used);
            m.ram_available = Some(m.ram_available.map_or(left, |a| a.min(left)));
        }
        return;
    }
    if cfg!(target_os = "macos") {
        m.ram_total = run("sysctl", &["-n", "hw.memsize"]).ok().and_then(|s| s.trim().parse().ok());
        m.notes.push("available memory is not measured on macOS: the total is used".into());
        return;
    }
    m.notes.push("this platform's memory is not detected".into());
}

/// (MemTotal, MemAvailable) in bytes from `/proc/meminfo` text.
pub fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let mut parts = rest.split_whitespace();
            let n: u64 = parts.next()?.parse().ok()?;
            Some(match parts.next() {
                Some("kB") | None => n * 1024,
                Some(_) => n,
            })
        })
    };
    (field("MemTotal"), field("MemAvailable"))
}

/// A cgroup v2 memory limit and current use under `root` (`memory.max`, `memory.current`), when limited.
fn cgroup_limit(root: &Path) -> Option<(u64, u64)> {
    let max = std::fs::read_to_string(root.join("memory.max")).ok()?;
    let limit: u64 = max.trim().parse().ok()?; // "max": no limit
    let used = std::fs::read_to_string(root.join("memory.current")).ok().and_then(|s| s.trim().parse().ok());
    Some((limit, used.unwrap_or(0)))
}

/// Runs a small command with a time limit (a wedged GPU driver can hang nvidia-smi).
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not answer within 5 s"));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    }
    let out = child.wait_with_output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nvidia_smi() -> Result<Vec<Gpu>, String> {
    match run("nvidia-smi", &["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]) {
        Ok(text) => Ok(parse_nvidia_smi(&text)),
        Err(e) if e.contains("No such file") || e.contains("not found") => Err("nvidia-smi is not installed".into()),
        Err(e) => Err(e),
    }
}

/// GPUs from `nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits` (MiB).
pub fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.rsplitn(3, ',').map(str::trim);
            let free: u64 = cols.next()?.parse().ok()?;
            let total: u64 = cols.next()?.parse().ok()?;
            let name = cols.next()?.to_owned();
            Some(Gpu {
                name,
                vendor: "nvidia".into(),
                vram_total: total << 20,
                vram_free: Some(free << 20),
                unified: false,
            })
        })
        .collect()
}

/// AMD GPUs under a `/sys/class/drm`-shaped folder: `card*/device/mem_info_vram_total` (and `_used`).
pub fn amd_gpus(drm: &Path) -> Vec<Gpu> {
    let Ok(entries) = std::fs::read_dir(drm) else { return Vec::new() };
    let mut cards: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix("card").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .collect();
    cards.sort();
    let read = |p: &Path| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<u64>().ok());
    cards
        .iter()
        .filter_map(|card| {
            let dev = card.join("device");
            let total = read(&dev.join("mem_info_vram_total")).filter(|&t| t > 0)?;
            let used = read(&dev.join("mem_info_vram_used"));
            let name = std::fs::read_to_string(dev.join("product_name"))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("AMD GPU ({})", card.file_name().unwrap_or_default().to_string_lossy()));
            Some(Gpu {
                name,
                vendor: "amd".into(),
                vram_total: total,
                vram_free: used.map(|u| total.saturating_sub(u)),
                unified: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_in_bytes() {
        let text = "MemTotal:       24684084 kB\nMemFree:        11661052 kB\nMemAvailable:   23378684 kB\n";
        assert_eq!(parse_meminfo(text), (Some(24_684_084 * 1024), Some(23_378_684 * 1024)));
        // old kernels have no MemAvailable
        assert_eq!(parse_meminfo("MemTotal: 1000 kB\n"), (Some(1_024_000), None));
        assert_eq!(parse_meminfo("garbage"), (None, None));
    }

    #[test]
    fn nvidia_smi_rows() {
        let text = "NVIDIA H200, 143771, 143001\nNVIDIA GeForce RTX 4090, 24564, 1000\n\nbad line\n";
        let gpus = parse_nvidia_smi(text);
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA H200");
        assert_eq!(gpus[0].vram_total, 143_771 << 20);
        assert_eq!(gpus[0].vram_free, Some(143_001 << 20));
        assert_eq!(gpus[1].vendor, "nvidia");
        // a name with a comma keeps it
        assert_eq!(parse_nvidia_smi("A, B, 10, 5")[0].name, "A, B");
        assert!(parse_nvidia_smi("").is_empty());
        assert!(parse_nvidia_smi("[N/A], [N/A], [N/A]").is_empty());
    }

    #[test]
    fn amd_vram_from_sysfs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let card = dir.path().join("card1").join("device");
        std::fs::create_dir_all(&card).expect("mkdir");
        std::fs::write(card.join("mem_info_vram_total"), "17163091968\n").expect("write");
        std::fs::write(card.join("mem_info_vram_used"), "1163091968\n").expect("write");
        std::fs::write(card.join("product_name"), "Radeon RX 7800 XT\n").expect("write");
        // a connector entry and an integrated card without VRAM files are not GPUs with memory
        std::fs::create_dir_all(dir.path().join("card1-DP-1")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("card0").join("device")).expect("mkdir");
        let gpus = amd_gpus(dir.path());
        assert_eq!(gpus.len(), 1, "{gpus:?}");
        assert_eq!(gpus[0].name, "Radeon RX 7800 XT");
        assert_eq!(gpus[0].vram_total, 17_163_091_968);
        assert_eq!(gpus[0].vram_free, Some(16_000_000_000));
        assert!(amd_gpus(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn cgroup_limits_apply_only_when_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(cgroup_limit(dir.path()), None);
        std::fs::write(dir.path().join("memory.max"), "max\n").expect("write");
        assert_eq!(cgroup_limit(dir.path()), None);
        std::fs::write(dir.path().join("memory.max"), "4294967296\n").expect("write");
        std::fs::write(dir.path().join("memory.current"), "1073741824\n").expect("write");
        assert_eq!(cgroup_limit(dir.path()), Some((4 << 30, 1 << 30)));
    }

    #[test]
    fn this_machine_is_described_without_failing() {
        let m = Machine::detect();
        if cfg!(target_os = "linux") {
            assert!(m.ram_total.is_some_and(|t| t > 0));
            assert!(m.ram_available.is_some());
        }
        // no GPU is a clean answer, not an error
        if m.gpus.is_empty() {
            assert_eq!(m.gpu_summary(), "none found");
        }
        assert!(!m.ram_summary().is_empty());
        assert_eq!(human(92 * 1024 * 1024 + 104_858), "92.1 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
