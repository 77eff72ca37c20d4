//! Makes `banner.png` with a FlowScale workflow, once: the result is kept in
//! `flowscale-cache/` (commit it), keyed by the request's fingerprint, and reused by every
//! later build without a request or a key. Change the prompt or `assets/sketch.png` and the
//! next build with `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL` set makes a new one.

use std::path::{Path, PathBuf};

use flowscale::Inputs;
use flowscale::build::BuildCache;

/// The workflow that makes the banner (the simulator's demo image-to-image workflow; use
/// your own workflow's id and input names).
const WORKFLOW: &str = "demo-img2img";

fn main() {
    // CI points this elsewhere to check a cache miss; normally it is the committed folder.
    println!("cargo:rerun-if-env-changed=ASSET_CACHE_DIR");
    let cache = std::env::var("ASSET_CACHE_DIR").unwrap_or_else(|_| "flowscale-cache".into());
    let inputs = Inputs::new()
        .set("text_51536", "a lighthouse at dusk, watercolor")
        .set("image_35728", Path::new("assets/sketch.png"));
    let files = match BuildCache::new(&cache).outputs(WORKFLOW, inputs) {
        Ok(files) => files,
        Err(e) => {
            // One clear line: cargo shows it under "failed to run custom build command".
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(&files[0], out.join("banner.png")).expect("OUT_DIR is writable");
}
