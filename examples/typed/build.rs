//! Makes Rust types from `flowscale.lock` (written by `flowscale lock`): one struct per
//! workflow with a field per input, into `$OUT_DIR/flowscale_workflows.rs`. No network and
//! no key: the lock is all it reads.

fn main() {
    if let Err(e) = flowscale::codegen::build("flowscale.lock") {
        // One clear line: cargo shows it under "failed to run custom build command".
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
