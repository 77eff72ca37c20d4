//! Typed workflows from a lock (`flowscale::codegen`): the types checked in at
//! `tests/typed/workflows.rs` (which `tests/cases/typed.rs` runs against both clients) are
//! exactly what codegen writes from `tests/typed/flowscale.lock`, and the compiler refuses
//! an input misspelt, of the wrong kind, or required and left out (trybuild).

use flowscale::lock::Lock;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_checked_in_types_are_what_codegen_writes_from_the_lock() {
    let lock = Lock::parse(&read("tests/typed/flowscale.lock")).unwrap();
    let code = flowscale::codegen::generate(&lock);
    let path = "tests/typed/workflows.rs";
    if std::env::var_os("FLOWSCALE_BLESS").is_some() {
        std::fs::write(path, &code).unwrap();
    }
    assert_eq!(
        read(path),
        code,
        "{path} is not what codegen writes now: `FLOWSCALE_BLESS=1 cargo test --features codegen --test typed` writes it"
    );
    // Readable names, whatever the catalog's.
    for expected in [
        "pub struct TextToImage {",
        "pub text: ::std::string::String,",
        "pub seed: ::core::option::Option<::flowscale::inputs::Number>,",
        "pub image: ::flowscale::inputs::FileInput,",
        "pub struct Workflow3DDepthMap {",
        "pub input_3d_depth: ::core::option::Option<::flowscale::inputs::FileInput>,",
        "pub prompt_positive: ::core::option::Option<::std::string::String>,",
        "pub type_: ::core::option::Option<::std::string::String>,",
        "pub latent: ::core::option::Option<::flowscale::Input>,",
        "pub image_output: ::core::option::Option<&'r ::flowscale::types::OutputFile>,",
    ] {
        assert!(code.contains(expected), "no `{expected}` in:\n{code}");
    }
}

#[test]
fn the_compiler_refuses_a_misspelt_mistyped_or_missing_input() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/typed/ui/pass.rs");
    cases.compile_fail("tests/typed/ui/fail_*.rs");
}

#[test]
fn build_outside_a_build_script_or_on_a_bad_lock_is_a_clear_error() {
    // Cargo sets OUT_DIR for build scripts only, not for tests.
    let err = flowscale::codegen::build("tests/typed/flowscale.lock").unwrap_err();
    assert!(err.to_string().contains("OUT_DIR is not set"), "{err}");
    let err = Lock::parse("version = 1\n[[workflow]]\nname = \"no id\"\n").unwrap_err();
    assert!(err.to_string().contains("flowscale.lock"), "{err}");
}
