//! Fingerprints are stable (fixed values, computed independently from the documented
//! encoding with Python's hashlib) and change with anything that changes the request.

use std::path::PathBuf;

use flowscale::{Error, Input, Inputs, Reader};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(name)
}

#[test]
fn fingerprints_have_fixed_values() {
    let inputs = Inputs::new()
        .set("text_51536", "a cat on a sofa")
        .set("seed", 7)
        .set("cfg", 7.5)
        .set("upscale", true)
        .set("loras", vec!["a.safetensors", "b.safetensors"])
        .set("style", serde_json::json!({"steps": 20}))
        .set("dropped", Input::Null);
    assert_eq!(
        inputs.fingerprint("bncu0a1kipv", None).unwrap().as_str(),
        "2186d42e0c726833c025ecd3e55ba3883e31650fa97b7cb598df99fb6f88a377"
    );
    let with_file = Inputs::new()
        .set("text_51536", "a cat")
        .set("image_35728", fixture("cat.png"));
    let fp = with_file
        .fingerprint("bncu0a1kipv", Some("batch_001"))
        .unwrap();
    assert_eq!(
        fp.as_str(),
        "5786b9294f3efdd775039f5eaf49d2347c57f46959c647e2489804f1f7e52f8e"
    );
    assert_eq!(fp.short(), "5786b9294f3efdd7");
}

#[test]
fn any_change_to_the_request_changes_the_fingerprint() {
    let dir = std::env::temp_dir().join(format!("flowscale-fp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("in.png");
    std::fs::write(&file, b"first").unwrap();
    let base = || Inputs::new().set("text", "a").set("image", file.as_path());
    let fp = |inputs: Inputs| inputs.fingerprint("wf", None).unwrap();
    let original = fp(base());

    assert_eq!(original, fp(base()), "stable across calls");
    assert_eq!(
        original,
        fp(Inputs::new().set("image", file.as_path()).set("text", "a")),
        "the order fields are set in does not matter"
    );
    assert_ne!(original, fp(base().set("extra", "x")));
    assert_ne!(
        original,
        fp(Inputs::new().set("text", "b").set("image", file.as_path()))
    );
    assert_ne!(original, base().fingerprint("wf2", None).unwrap());
    assert_ne!(original, base().fingerprint("wf", Some("")).unwrap());
    assert_ne!(
        original,
        fp(Inputs::new()
            .set("text", "a")
            .set("image", Input::file(&file).with_filename("x.png")))
    );
    std::fs::write(&file, b"second").unwrap();
    assert_ne!(original, fp(base()), "a file's bytes count");
    // Text that looks like a path is text, not the file.
    assert_ne!(
        fp(Inputs::new().set("image", file.display().to_string())),
        fp(Inputs::new().set("image", file.as_path()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_cannot_be_fingerprinted_says_so() {
    let inputs = Inputs::new().set("mask", Reader::new(&b"png"[..], "mask.png"));
    match inputs.fingerprint("wf", None) {
        Err(Error::Input { field, .. }) => assert_eq!(field, "mask"),
        other => panic!("{other:?}"),
    }
    let missing = Inputs::new().set("image", fixture("missing.png"));
    assert!(matches!(
        missing.fingerprint("wf", None),
        Err(Error::Input { .. })
    ));
}

#[test]
fn only_64_hex_digits_deserialize_as_a_fingerprint() {
    for bad in [
        "\"ab\"",
        "\"\"",
        &format!("\"{}\"", "G".repeat(64)),
        &format!("\"{}\"", "é".repeat(32)),
    ] {
        let err = serde_json::from_str::<flowscale::types::Fingerprint>(bad).unwrap_err();
        assert!(err.to_string().contains("not a fingerprint"), "{err}");
    }
    let good = format!("\"{}\"", "0a".repeat(32));
    let fp: flowscale::types::Fingerprint = serde_json::from_str(&good).unwrap();
    assert_eq!(fp.short(), "0a0a0a0a0a0a0a0a");
    assert_eq!(serde_json::to_string(&fp).unwrap(), good);
}
