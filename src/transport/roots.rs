//! Which certificate roots both clients trust: the platform's verifier (the operating
//! system's store, so a company TLS proxy's own CA works the same in both clients), or the
//! bundled Mozilla roots where the platform has no store at all (a minimal container
//! without `ca-certificates`).

use std::sync::OnceLock;

/// Whether the platform has certificate roots to verify against. Checked once a process.
pub(crate) fn platform_store_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(store::present)
}

/// Where the operating system's store is files (Linux, the BSDs): whether they are there.
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
)))]
mod store {
    /// Whether the files the platform verifier would read are there and not empty: the
    /// bundle it names, or a directory with an entry. Only looked at, not read: parsing the
    /// whole store here (as the verifier does later, on the first TLS connection) cost every
    /// process about 5 ms, `http://` ones included.
    pub(super) fn present() -> bool {
        has_roots(&openssl_probe::probe())
    }

    /// Whether what the probe found can hold a root: a bundle that is not empty, or a
    /// directory with an entry.
    fn has_roots(found: &openssl_probe::ProbeResult) -> bool {
        let file = found.cert_file.as_deref();
        file.is_some_and(|f| f.metadata().is_ok_and(|m| m.len() > 0))
            || found
                .cert_dir
                .iter()
                .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use openssl_probe::ProbeResult;

        /// An empty bundle or an empty directory (a container with `openssl` but without
        /// `ca-certificates`) is no store: the bundled roots are used then.
        #[test]
        fn only_a_bundle_or_directory_with_something_in_it_counts() {
            let dir = std::env::temp_dir().join(format!("flowscale-roots-{}", std::process::id()));
            let (empty_dir, full_dir) = (dir.join("empty"), dir.join("full"));
            std::fs::create_dir_all(&empty_dir).unwrap();
            std::fs::create_dir_all(&full_dir).unwrap();
            let (empty_file, full_file) = (dir.join("empty.pem"), dir.join("full.pem"));
            std::fs::write(&empty_file, b"").unwrap();
            std::fs::write(&full_file, b"-----BEGIN CERTIFICATE-----\n").unwrap();
            std::fs::write(full_dir.join("a.pem"), b"x").unwrap();
            let probe = |file: Option<&std::path::Path>, dirs: &[&std::path::Path]| ProbeResult {
                cert_file: file.map(Into::into),
                cert_dir: dirs.iter().map(|d| d.to_path_buf()).collect(),
            };
            assert!(!has_roots(&probe(None, &[])));
            assert!(!has_roots(&probe(Some(&empty_file), &[&empty_dir])));
            assert!(!has_roots(&probe(
                Some(&dir.join("missing.pem")),
                &[&dir.join("missing")]
            )));
            assert!(has_roots(&probe(Some(&full_file), &[])));
            assert!(has_roots(&probe(None, &[&empty_dir, &full_dir])));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// macOS, iOS, Windows and Android always have a system store, asked through their own
/// APIs by the platform verifier.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
))]
mod store {
    pub(super) fn present() -> bool {
        true
    }
}
