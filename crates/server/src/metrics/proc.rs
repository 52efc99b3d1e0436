//! The process as `/proc` tells it: resident memory from `/proc/self/statm` (resident pages × the
//! page size) for the metrics actor's sampling, and the standard `process_*` series of every
//! Prometheus client library, read at scrape time as those libraries do. All read without
//! `unsafe`: the page size and the clock tick come from the auxiliary vector the kernel gave the
//! process (`/proc/self/auxv`, entries `AT_PAGESZ` and `AT_CLKTCK`), not from `sysconf`. Where
//! `/proc` is missing (not Linux), each reading is `None` and its series is left out.

use std::fmt::Write as _;
use std::sync::OnceLock;

/// `AT_PAGESZ` in the auxiliary vector (`<elf.h>`).
const AT_PAGESZ: u64 = 6;
/// `AT_CLKTCK` in the auxiliary vector: the unit of `/proc/self/stat`'s times.
const AT_CLKTCK: u64 = 17;
/// Assumed when the auxiliary vector cannot be read (`USER_HZ` on every Linux architecture).
const FALLBACK_CLOCK_TICKS: u64 = 100;
/// `AT_NULL`: the end of the auxiliary vector.
const AT_NULL: u64 = 0;
/// Assumed when the auxiliary vector cannot be read (every Linux architecture's smallest).
const FALLBACK_PAGE_SIZE: u64 = 4096;

/// Resident memory of this process in bytes; `None` where `/proc` is unavailable.
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    Some(resident_pages(&statm)?.saturating_mul(page_size()))
}

/// The second field of `statm`: resident pages.
pub(crate) fn resident_pages(statm: &str) -> Option<u64> {
    statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The page size, read once.
pub(crate) fn page_size() -> u64 {
    static PAGE_SIZE: OnceLock<u64> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| auxv_page_size(&auxv))
            .unwrap_or(FALLBACK_PAGE_SIZE)
    })
}

/// Clock ticks per second, the unit of `/proc/self/stat`'s times, read once.
fn clock_ticks() -> u64 {
    static CLOCK_TICKS: OnceLock<u64> = OnceLock::new();
    *CLOCK_TICKS.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| auxv_entry(&auxv, AT_CLKTCK))
            .unwrap_or(FALLBACK_CLOCK_TICKS)
    })
}

/// What `/proc/self/stat` tells of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// User and system CPU time, in clock ticks.
    pub(crate) cpu_ticks: u64,
    /// When the process started, in clock ticks after boot.
    pub(crate) start_ticks: u64,
}

/// Parses `/proc/self/stat`. The command name (field 2) is in parentheses and may hold spaces
/// and parentheses itself, so fields are counted from the last `)`: then `utime` and `stime`
/// are fields 14 and 15, `starttime` field 22 (proc(5)).
pub(crate) fn parse_stat(stat: &str) -> Option<Stat> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_ascii_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |number: usize| -> Option<u64> { fields.get(number - 3)?.parse().ok() };
    Some(Stat {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
    })
}

/// `btime` of `/proc/stat`: when the system booted, in Unix seconds.
pub(crate) fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// The soft limit on open files from `/proc/self/limits` (`None` when unlimited or unknown).
pub(crate) fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The `process_*` series of the Prometheus client libraries, as exposition text (HELP, TYPE
/// and one sample each), for the ones this system can tell.
pub(crate) fn process_exposition() -> String {
    let mut text = String::with_capacity(1024);
    let mut series = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            // Writing to a String cannot fail.
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
            );
        }
    };
    let ticks = clock_ticks() as f64;
    let page = page_size();
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| parse_stat(&stat));
    let statm = std::fs::read_to_string("/proc/self/statm").ok();
    let statm_field = |index: usize| -> Option<f64> {
        let pages: u64 = statm
            .as_deref()?
            .split_ascii_whitespace()
            .nth(index)?
            .parse()
            .ok()?;
        Some(pages.saturating_mul(page) as f64)
    };
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| parse_boot_time(&s));
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count() as f64);
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| parse_max_open_files(&limits));
    series(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        stat.map(|s| s.cpu_ticks as f64 / ticks),
    );
    series(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        open_fds,
    );
    series(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        max_fds.map(|max| max as f64),
    );
    series(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        statm_field(0),
    );
    series(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        statm_field(1),
    );
    series(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        stat.zip(boot)
            .map(|(s, boot)| boot as f64 + s.start_ticks as f64 / ticks),
    );
    text
}

/// Finds `AT_PAGESZ` in an auxiliary vector (see [`auxv_entry`]), refusing a zero size.
pub(crate) fn auxv_page_size(auxv: &[u8]) -> Option<u64> {
    auxv_entry(auxv, AT_PAGESZ)
}

/// Finds the entry `key` in an auxiliary vector: pairs of native-endian, pointer-sized words
/// (type, value), ended by `AT_NULL`. A zero value counts as absent.
pub(crate) fn auxv_entry(auxv: &[u8], key: u64) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| -> u64 {
        let mut buf = [0u8; WORD];
        buf.copy_from_slice(bytes);
        usize::from_ne_bytes(buf) as u64
    };
    for entry in auxv.chunks_exact(2 * WORD) {
        match word(&entry[..WORD]) {
            AT_NULL => return None,
            found if found == key => return Some(word(&entry[WORD..])).filter(|value| *value > 0),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_gives_the_resident_field() {
        assert_eq!(resident_pages("5430 1234 567 12 0 890 0\n"), Some(1234));
        assert_eq!(resident_pages("5430"), None);
        assert_eq!(resident_pages(""), None);
        assert_eq!(resident_pages("5430 x 1"), None);
    }

    fn auxv(entries: &[(u64, u64)]) -> Vec<u8> {
        entries
            .iter()
            .flat_map(|&(key, value)| {
                let mut bytes = (key as usize).to_ne_bytes().to_vec();
                bytes.extend_from_slice(&(value as usize).to_ne_bytes());
                bytes
            })
            .collect()
    }

    #[test]
    fn auxv_gives_the_page_size_entry() {
        assert_eq!(
            auxv_page_size(&auxv(&[(33, 1), (AT_PAGESZ, 16384), (AT_NULL, 0)])),
            Some(16384)
        );
        assert_eq!(
            auxv_page_size(&auxv(&[(33, 1), (AT_NULL, 0), (AT_PAGESZ, 4096)])),
            None,
            "nothing after AT_NULL counts"
        );
        assert_eq!(auxv_page_size(&auxv(&[(AT_PAGESZ, 0)])), None);
        assert_eq!(auxv_page_size(&[1, 2, 3]), None, "a truncated vector");
    }

    #[test]
    fn stat_gives_cpu_and_start_times_past_an_odd_command_name() {
        let stat = "4242 (web (server) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    150 50 0 0 20 0 9 0 123456 999424 500 18446744073709551615";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                cpu_ticks: 200,
                start_ticks: 123456
            })
        );
        assert_eq!(parse_stat("4242 (short) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn boot_time_and_open_file_limit_are_found() {
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764940000\nprocesses 9\n"),
            Some(1_764_940_000)
        );
        assert_eq!(parse_boot_time("cpu 1\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63438                63438                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_open_files(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_series_are_all_there_with_plausible_values() {
        let text = process_exposition();
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .parse()
                .unwrap()
        };
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(value("process_open_fds") >= 3.0, "stdin, stdout, stderr");
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 24.0 * 3600.0,
            "{started} vs {now}"
        );
        assert_eq!(text.matches("# TYPE ").count(), 6);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_plausible_resident_size() {
        let page = page_size();
        assert!(page.is_power_of_two() && page >= 4096, "page size {page}");
        let resident = resident_bytes().expect("/proc/self/statm is readable on Linux");
        assert!(resident >= page, "resident {resident}");
        // statm and status count the same pages.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let diff = (resident as i64 - (vm_rss_kb * 1024) as i64).unsigned_abs();
        assert!(
            diff < 64 * 1024 * 1024,
            "statm {resident} vs VmRSS {vm_rss_kb} kB"
        );
    }
}
