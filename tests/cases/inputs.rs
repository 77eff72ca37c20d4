//! Every input kind, as the server receives it.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{Body, KEY, Recorder, fixture, ok};
use flowscale::{Error, Input, Inputs, Reader};

/// Sends `inputs` to a fresh mock server and returns what it saw.
#[maybe_async]
async fn send(inputs: Inputs) -> crate::common::Seen {
    let mut server = server().await;
    let rec = Recorder::new();
    let m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .match_request(rec.matcher())
        .with_body(ok(json!({"run_id": "r1", "workflow_id": "wf1"})))
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    client.execute_workflow("wf1", inputs).await.unwrap();
    m.assert();
    rec.one()
}

/// Sends `inputs` to a fresh mock server that would accept them, expecting the upload to
/// fail: the error, for a reader's fault, names its field and says what went wrong.
#[maybe_async]
async fn reader_fault(inputs: Inputs, field_name: &str) -> String {
    let mut server = server().await;
    let _m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .with_body(ok(json!({"run_id": "r1"})))
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let err = client.execute_workflow("wf1", inputs).await.unwrap_err();
    match err {
        Error::Input { field, reason, .. } => {
            assert_eq!(field, field_name);
            reason
        }
        other => panic!("{other:?}"),
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = p
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[maybe_async]
#[case]
async fn scalars_json_lists_and_nulls_are_text_fields() {
    let inputs = Inputs::new()
        .set("text_1", "a cat & a dog = friends")
        .set("seed_456", 12345)
        .set("neg", -3i8)
        .set("cfg_1", 7.5)
        .set("f32", 0.1f32)
        .set("upscale", true)
        .set("off", false)
        .set("style", json!({"steps": 20, "sampler": "euler"}))
        .set("json_str", json!("plain"))
        .set("json_null", json!(null))
        .set("none", None::<&str>)
        .set("loras", vec!["a", "b"])
        .set(
            "nested",
            vec![Input::from(1), Input::from(vec![true, false])],
        )
        .set("empty", "");
    let seen = send(inputs).await;
    assert_eq!(
        seen.body,
        Body::Multipart {
            fields: pairs(&[
                ("text_1", "a cat & a dog = friends"),
                ("seed_456", "12345"),
                ("neg", "-3"),
                ("cfg_1", "7.5"),
                ("f32", "0.1"),
                ("upscale", "true"),
                ("off", "false"),
                ("style", r#"{"sampler":"euler","steps":20}"#),
                ("json_str", "plain"),
                ("loras_0", "a"),
                ("loras_1", "b"),
                ("nested_0", "1"),
                ("nested_1_0", "true"),
                ("nested_1_1", "false"),
                ("empty", ""),
            ]),
            files: vec![],
        }
    );
    assert_eq!(seen.content_length, Some(seen.raw_body.len().to_string()));
}

#[maybe_async]
#[case]
async fn paths_are_streamed_as_file_parts_with_exact_length() {
    let inputs = Inputs::new()
        .set("prompt", "describe")
        .set("image_35728", fixture("cat.png").as_path())
        .set("video_1239", fixture("clip.mp4"))
        .set("frames", vec![fixture("dog.jpg"), fixture("cat.png")]);
    let seen = send(inputs).await;
    assert!(
        seen.content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(seen.content_length, Some(seen.raw_body.len().to_string()));
    assert_eq!(seen.transfer_encoding, None);
    assert_eq!(seen.body.fields(), pairs(&[("prompt", "describe")]));
    let files = seen.body.files();
    let summary: Vec<_> = files
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.filename.as_str(),
                f.content_type.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("frames_0", "dog.jpg", Some("image/jpeg")),
            ("frames_1", "cat.png", Some("image/png")),
            ("image_35728", "cat.png", Some("image/png")),
            ("video_1239", "clip.mp4", Some("video/mp4")),
        ]
    );
    for f in &files {
        assert_eq!(f.bytes, std::fs::read(fixture(&f.filename)).unwrap());
    }
}

#[maybe_async]
#[case]
async fn readers_use_the_given_name_and_guess_the_type() {
    let bytes = std::fs::read(fixture("dog.jpg")).unwrap();
    let inputs = Inputs::new()
        .set(
            "image_42561",
            Reader::new(std::fs::File::open(fixture("dog.jpg")).unwrap(), "dog.jpg"),
        )
        .set("blob", Reader::new(&b"raw bytes"[..], "").with_length(9))
        .set(
            "typed",
            Reader::new(&b"{}"[..], "data.bin").with_content_type("application/json"),
        );
    let seen = send(inputs).await;
    let files = seen.body.files();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0].name, "blob");
    assert_eq!(
        files[0].filename, "blob",
        "an unnamed reader takes the field name"
    );
    assert_eq!(files[0].bytes, b"raw bytes");
    assert_eq!(files[1].name, "image_42561");
    assert_eq!(files[1].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(files[1].bytes, bytes);
    assert_eq!(files[2].content_type.as_deref(), Some("application/json"));
    // A reader of unknown length cannot give an exact Content-Length: chunked instead.
    assert_eq!(seen.content_length, None);
    assert_eq!(seen.transfer_encoding.as_deref(), Some("chunked"));
}

#[maybe_async]
#[case]
async fn file_name_and_type_can_be_overridden() {
    let inputs = Inputs::new().set(
        "image",
        Input::file(fixture("cat.png"))
            .with_filename("renamed \"x\".png")
            .with_content_type("image/x-custom"),
    );
    let seen = send(inputs).await;
    let f = &seen.body.files()[0];
    assert_eq!(f.filename, "renamed %22x%22.png");
    assert_eq!(f.content_type.as_deref(), Some("image/x-custom"));
    assert_eq!(seen.content_length, Some(seen.raw_body.len().to_string()));
}

#[maybe_async]
#[case]
async fn strings_are_never_files_unless_asked() {
    let path = fixture("cat.png").display().to_string();
    let seen = send(
        Inputs::new()
            .set("as_text", path.as_str())
            .set("as_file", Input::path_or_text(path.as_str()))
            .set("not_a_file", Input::path_or_text("no/such/file.png")),
    )
    .await;
    assert_eq!(
        seen.body.fields(),
        pairs(&[("as_text", &path), ("not_a_file", "no/such/file.png")])
    );
    assert_eq!(seen.body.files()[0].name, "as_file");
}

#[maybe_async]
#[case]
async fn missing_or_bad_files_fail_before_sending() {
    let mut server = server().await;
    let m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .expect(0)
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    for (field, path) in [
        ("image_1", Path::new("definitely/missing.png").to_path_buf()),
        ("image_2", dir.clone()),
    ] {
        let inputs = Inputs::new()
            .set("ok", fixture("cat.png"))
            .set(field, path.clone());
        let err = client.execute_workflow("wf1", inputs).await.unwrap_err();
        match &err {
            Error::Input {
                field: f, reason, ..
            } => {
                assert_eq!(f, field);
                assert!(reason.contains(&path.display().to_string()), "{reason}");
            }
            other => panic!("expected an input error, got {other:?}"),
        }
    }
    let err = client
        .execute_workflow("wf1", Inputs::new().set("", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Input { .. }));
    m.assert();
}

/// A reader that gives some bytes, then fails.
struct Failing(usize);

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = self.0.min(buf.len());
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

#[maybe_async]
#[case]
async fn a_reader_that_fails_midway_fails_the_upload_with_its_error() {
    // No length: the body goes out chunked, so only the error can tell it is cut short.
    let inputs = Inputs::new().set("f", Reader::new(Failing(3 << 20), "f.bin"));
    let reason = reader_fault(inputs, "f").await;
    assert!(reason.contains("the disk went away"), "{reason}");
}

#[maybe_async]
#[case]
async fn a_reader_that_lies_about_its_length_stops_the_upload() {
    let inputs = Inputs::new().set("f", Reader::new(&b"short"[..], "f.bin").with_length(100));
    // The caller's reader is at fault, not the connection: said the same by both clients.
    let reason = reader_fault(inputs, "f").await;
    assert!(
        reason.contains("5 bytes where 100 were announced"),
        "{reason}"
    );
}

#[maybe_async]
#[case]
async fn inputs_from_pairs_and_iterators() {
    let seen = send(Inputs::from([("a", 1), ("b", 2)])).await;
    assert_eq!(seen.body.fields(), pairs(&[("a", "1"), ("b", "2")]));
    let seen = send(vec![("x", "y")].into_iter().collect()).await;
    assert_eq!(seen.body.fields(), pairs(&[("x", "y")]));
}
