//! Resident memory from `/proc/self/statm` (resident pages × the page size), read without
//! `unsafe`: the page size comes from the auxiliary vector the kernel gave the process
//! (`/proc/self/auxv`, entry `AT_PAGESZ`), not from `sysconf`.

use std::sync::OnceLock;

/// `AT_PAGESZ` in the auxiliary vector (`<elf.h>`).
const AT_PAGESZ: u64 = 6;
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

/// Finds `AT_PAGESZ` in an auxiliary vector: pairs of native-endian, pointer-sized words
/// (type, value), ended by `AT_NULL`.
pub(crate) fn auxv_page_size(auxv: &[u8]) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| -> u64 {
        let mut buf = [0u8; WORD];
        buf.copy_from_slice(bytes);
        usize::from_ne_bytes(buf) as u64
    };
    for entry in auxv.chunks_exact(2 * WORD) {
        match word(&entry[..WORD]) {
            AT_NULL => return None,
            AT_PAGESZ => return Some(word(&entry[WORD..])).filter(|size| *size > 0),
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
