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
        )) || !rustls_native_certs::load_native_certs().certs.is_empty()
    })
}
