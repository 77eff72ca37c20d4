//! Which certificate roots both clients trust: the platform's verifier (the operating
//! system's store, so a company TLS proxy's own CA works the same in both clients), or the
//! bundled Mozilla roots where the platform has no store at all (a minimal container
//! without `ca-certificates`).

use std::sync::OnceLock;

/// Whether the platform has certificate roots to verify against. Checked once a process.
pub(crate) fn platform_store_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        // macOS, iOS, Windows and Android always have a system store, asked through their
        // own APIs; elsewhere the platform verifier reads the same files as this.
        cfg!(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "windows",
            target_os = "android"
        )) || store_files_present()
    })
}

/// Whether the files the platform verifier would read are there and not empty: the
/// bundle it names, or a directory with an entry. Only looked at, not read: parsing the
/// whole store here (as the verifier does later, on the first TLS connection) cost every
/// process about 5 ms, `http://` ones included.
#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
)))]
fn store_files_present() -> bool {
    let found = openssl_probe::probe();
    let file = found.cert_file.as_deref();
    file.is_some_and(|f| f.metadata().is_ok_and(|m| m.len() > 0))
        || found
            .cert_dir
            .iter()
            .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
))]
fn store_files_present() -> bool {
    true
}
