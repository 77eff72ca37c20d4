//! A crate that ships an image generated at build time (see `build.rs`).

/// The banner, as PNG bytes, made by FlowScale when the cache was filled.
pub const BANNER_PNG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/banner.png"));

#[cfg(test)]
mod tests {
    #[test]
    fn the_banner_is_a_png() {
        assert!(super::BANNER_PNG.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
