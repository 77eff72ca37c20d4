//! Saving outputs to disk: hostile names stay inside the directory, nothing is overwritten
//! or left half-written, progress is reported, and in-memory downloads are capped.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::types::Transfer;
use flowscale::{
    DownloadOptions, Error, Inputs, Progress, TransportErrorKind, WaitOptions, WorkflowResult,
};
use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, fixture, fresh_dir};

/// Every file in `dir`, by name, with its content.
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A `WorkflowResult` as a server would describe it (from JSON: the type is non-exhaustive).
fn result_of(outputs: serde_json::Value) -> WorkflowResult {
    serde_json::from_value(json!({"run_id": "r1", "workflow_id": "wf", "outputs": outputs}))
        .unwrap()
}

#[maybe_async]
#[case]
async fn hostile_output_names_all_land_inside_the_directory() {
    let mut server = server().await;
    let body = |i: usize| format!("file number {i}");
    let hostile = [
        "../../x",
        "/abs/x",
        "a/b/c",
        "..",
        ".",
        "",
        "CON",
        "nul.txt",
        "nul\0and\nnewline",
        &"é".repeat(150),
        "twin",
        "twin",
        "exists",
    ];
    let mut mocks = Vec::new();
    let mut outputs = Vec::new();
    for (i, name) in hostile.iter().enumerate() {
        mocks.push(
            server
                .mock("GET", format!("/f/{i}").as_str())
                .with_header("content-type", "image/png")
                .with_body(body(i))
                .create(),
        );
        outputs.push(json!({
            "name": name,
            "download_url": format!("{}/f/{i}", server.url()),
            "generation_status": "success",
        }));
    }
    let dir = fresh_dir("hostile");
    std::fs::write(dir.join("exists.png"), "mine").unwrap();
    let client = Client::new(KEY, server.url()).unwrap();
    let saved = client
        .download_outputs(&result_of(json!(outputs)), &dir, &DownloadOptions::new())
        .await
        .unwrap();

    assert_eq!(saved.len(), hostile.len());
    // Cut on a character boundary, leaving room for a suffix and `.part` in 255 bytes.
    let long = format!("{}.png", "é".repeat(120));
    let expected = [
        "_.._x.png",
        "_abs_x.png",
        "a_b_c.png",
        "output.png",
        "output-1.png",
        "output-2.png",
        "_CON.png",
        "_nul.txt.png",
        "nul_and_newline.png",
        long.as_str(),
        "twin.png",
        "twin-1.png",
        "exists-1.png",
    ];
    for (i, (out, name)) in saved.iter().zip(expected).enumerate() {
        assert_eq!(out.name, hostile[i]);
        assert_eq!(out.path, dir.join(name), "output {i}");
        assert_eq!(out.path.parent(), Some(dir.as_path()));
        assert_eq!(std::fs::read(&out.path).unwrap(), body(i).as_bytes());
        assert_eq!(out.bytes, body(i).len() as u64);
    }
    // Nothing else was written: no .part left, the existing file untouched.
    let files = files_in(&dir);
    assert_eq!(files.len(), hostile.len() + 1, "{files:?}");
    assert!(
        files
            .iter()
            .all(|(n, _)| !n.ends_with(".part") && n.len() <= 255)
    );
    assert_eq!(std::fs::read(dir.join("exists.png")).unwrap(), b"mine");
    assert!(!dir.parent().unwrap().join("x.png").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn overwrite_replaces_existing_files_but_never_a_sibling() {
    let mut server = server().await;
    let _a = server.mock("GET", "/a.png").with_body("new a").create();
    let _b = server.mock("GET", "/b.png").with_body("new b").create();
    let dir = fresh_dir("overwrite");
    std::fs::write(dir.join("same.png"), "old").unwrap();
    let outputs = json!([
        {"name": "same", "download_url": format!("{}/a.png", server.url()), "generation_status": "success"},
        {"name": "same", "download_url": format!("{}/b.png", server.url()), "generation_status": "success"},
    ]);
    let saved = Client::new(KEY, server.url())
        .unwrap()
        .download_outputs(
            &result_of(outputs),
            &dir,
            &DownloadOptions::new().overwrite(true),
        )
        .await
        .unwrap();
    assert_eq!(saved[0].path, dir.join("same.png"));
    assert_eq!(saved[1].path, dir.join("same-1.png"));
    assert_eq!(
        files_in(&dir),
        [
            ("same-1.png".to_string(), b"new b".to_vec()),
            ("same.png".to_string(), b"new a".to_vec())
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_run_finished_earlier_is_saved_with_real_extensions_and_progress() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .outputs(["image", "preview"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(50)),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let uploads = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let seen = uploads.clone();
    let inputs = Inputs::new()
        .set("image_1", fixture("cat.png").as_path())
        .on_progress(move |p| seen.lock().unwrap().push(p.clone()));
    let options = WaitOptions::new().poll_interval(Duration::from_millis(50));
    let result = client
        .execute_workflow_and_wait("wf", inputs, &options)
        .await
        .unwrap();
    assert_monotonic_to_the_total(&uploads.lock().unwrap());
    assert!(
        result.outputs[0]
            .filename
            .as_deref()
            .is_some_and(|f| f.ends_with(".png")),
        "the result carries the run's file names: {result:?}"
    );

    let downloads = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let seen = downloads.clone();
    let options = DownloadOptions::new().on_progress(move |p| seen.lock().unwrap().push(p.clone()));
    let dir = fresh_dir("by-run");
    let saved = client
        .download_run_outputs(&result.run_id, &dir, &options)
        .await
        .unwrap();
    assert_eq!(saved.len(), 2);
    for out in &saved {
        let file = out.path.file_name().unwrap().to_str().unwrap();
        assert_eq!(file, format!("{}.png", out.name));
        assert_eq!(std::fs::metadata(&out.path).unwrap().len(), out.bytes);
        let reports: Vec<_> = downloads
            .lock()
            .unwrap()
            .iter()
            .filter(|p| matches!(&p.transfer, Transfer::Download { name, .. } if *name == out.name))
            .cloned()
            .collect();
        assert_monotonic_to_the_total(&reports);
        assert_eq!(reports.last().unwrap().done, out.bytes);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reports never go down, and the last one is complete.
fn assert_monotonic_to_the_total(reports: &[Progress]) {
    assert!(!reports.is_empty());
    assert!(
        reports.windows(2).all(|w| w[0].done <= w[1].done),
        "{reports:?}"
    );
    let last = reports.last().unwrap();
    assert_eq!(Some(last.done), last.total, "{reports:?}");
    assert!(last.is_complete());
}

#[maybe_async]
#[case]
async fn a_download_truncated_on_every_attempt_leaves_nothing() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(20)),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let options = WaitOptions::new().poll_interval(Duration::from_millis(50));
    let result = client
        .execute_workflow_and_wait("wf", [("a", 1)], &options)
        .await
        .unwrap();
    // Cut short more often than the retry policy resumes (3 attempts).
    server.fail_next(Route::Download, 3, Fault::TruncateBody);
    let dir = fresh_dir("truncated");
    let err = client
        .download_outputs(&result, &dir, &DownloadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_directory_that_cannot_be_made_is_an_io_error() {
    let mut server = server().await;
    let _f = server.mock("GET", "/f.png").with_body("png").create();
    let dir = fresh_dir("io");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let outputs = json!([{"name": "o", "download_url": format!("{}/f.png", server.url()), "generation_status": "success"}]);
    let err = Client::new(KEY, server.url())
        .unwrap()
        .download_outputs(
            &result_of(outputs),
            blocker.join("sub"),
            &DownloadOptions::new(),
        )
        .await
        .unwrap_err();
    match &err {
        Error::Io { path: Some(p), .. } => assert!(p.starts_with(&blocker), "{p:?}"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_redirected_output_is_fetched_without_the_key() {
    let mut bucket = server().await;
    let file = bucket
        .mock("GET", "/real.webp")
        .match_header("x-api-key", mockito::Matcher::Missing)
        .with_body("webp bytes")
        .create();
    let mut server = server().await;
    let _hop = server
        .mock("GET", "/short")
        .with_status(302)
        .with_header("location", &format!("{}/real.webp", bucket.url()))
        .create();
    let dir = fresh_dir("redirect");
    let outputs = json!([{"name": "o", "download_url": format!("{}/short", server.url()), "generation_status": "success"}]);
    let saved = Client::new(KEY, server.url())
        .unwrap()
        .download_outputs(&result_of(outputs), &dir, &DownloadOptions::new())
        .await
        .unwrap();
    // The name's extension comes from the answer's type, as the link has none.
    assert_eq!(std::fs::read(&saved[0].path).unwrap(), b"webp bytes");
    file.assert();
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn download_bytes_refuses_a_body_over_its_cap() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/big.bin")
        .with_body(vec![7u8; 1000])
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let url = format!("{}/big.bin", server.url());
    let err = client.download_bytes(&url, 100).await.unwrap_err();
    match &err {
        Error::Transport { kind, .. } => {
            assert_eq!(*kind, TransportErrorKind::BodyTooLarge { limit: 100 })
        }
        other => panic!("{other:?}"),
    }
    let bytes = client.download_bytes(&url, 1000).await.unwrap();
    assert_eq!(bytes, vec![7u8; 1000]);
}

#[maybe_async]
#[case]
async fn names_that_differ_only_in_case_or_normalization_never_share_a_file() {
    let mut server = server().await;
    // Names a case-insensitive or normalizing file system (macOS, Windows) takes for one.
    let names = [
        "image",
        "Image",
        "caf\u{e9}",
        "cafe\u{301}",
        "\u{212a}ey",
        "key",
    ];
    let mut mocks = Vec::new();
    let mut outputs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = format!("/n/{i}.png");
        mocks.push(
            server
                .mock("GET", path.as_str())
                .with_body(format!("body {i}"))
                .create(),
        );
        outputs.push(json!({"name": name, "download_url": format!("{}{path}", server.url()), "generation_status": "success"}));
    }
    let dir = fresh_dir("folding");
    let saved = Client::new(KEY, server.url())
        .unwrap()
        .download_outputs(
            &result_of(json!(outputs)),
            &dir,
            &DownloadOptions::new().overwrite(true),
        )
        .await
        .unwrap();
    let folded: std::collections::HashSet<String> = saved
        .iter()
        .map(|s| {
            let name = s.path.file_name().unwrap().to_str().unwrap();
            // What such a file system compares: case folded, accents composed.
            name.to_lowercase()
                .replace("e\u{301}", "\u{e9}")
                .replace('\u{212a}', "k")
        })
        .collect();
    assert_eq!(folded.len(), names.len(), "{saved:?}");
    for (i, s) in saved.iter().enumerate() {
        assert_eq!(
            std::fs::read(&s.path).unwrap(),
            format!("body {i}").as_bytes()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_partial_file_a_killed_process_left_is_taken_over_under_the_same_name() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/big.png")
        .with_body(vec![5u8; 50_000])
        .create();
    let dir = fresh_dir("stale-partial");
    // What `kill -9` mid-download leaves: the partial file, and nothing at the final name.
    std::fs::write(dir.join("big.png.part"), vec![1u8; 20_000]).unwrap();
    let outputs = json!([{"name": "big", "download_url": format!("{}/big.png", server.url()), "generation_status": "success"}]);
    let seen_early = Arc::new(Mutex::new(Vec::new()));
    let seen = seen_early.clone();
    let options = DownloadOptions::new().on_progress(move |p: &Progress| {
        if let Transfer::Download { path, .. } = &p.transfer
            && !p.is_complete()
        {
            seen.lock().unwrap().push(path.exists());
        }
    });
    let saved = Client::new(KEY, server.url())
        .unwrap()
        .download_outputs(&result_of(outputs), &dir, &options)
        .await
        .unwrap();
    assert_eq!(
        saved[0].path,
        dir.join("big.png"),
        "the name an uninterrupted run gives"
    );
    assert_eq!(files_in(&dir), [("big.png".to_string(), vec![5u8; 50_000])]);
    assert!(
        !seen_early.lock().unwrap().contains(&true),
        "no file at the final name before it is complete"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_second_save_keeps_what_is_there_when_asked_and_numbers_it_otherwise() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .outputs(["image", "mask"])
            .queued_for(Duration::ZERO)
            .duration(Duration::ZERO),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let options = WaitOptions::new().poll_interval(Duration::from_millis(10));
    let result = client
        .execute_workflow_and_wait("wf", [("a", 1)], &options)
        .await
        .unwrap();
    let dir = fresh_dir("skip-existing");
    let first = client
        .download_outputs(&result, &dir, &DownloadOptions::new())
        .await
        .unwrap();
    let fetches = |server: &MockServer| {
        (server.requests().iter())
            .filter(|r| r.path.starts_with("/files/"))
            .count()
    };
    let before = fetches(&server);
    let skip = DownloadOptions::new().skip_existing(true);
    let again = client.download_outputs(&result, &dir, &skip).await.unwrap();
    assert_eq!(again, first, "the same files, reported as saved");
    assert_eq!(fetches(&server), before, "nothing fetched again");
    assert_eq!(files_in(&dir).len(), 2);

    let numbered = client
        .download_outputs(&result, &dir, &DownloadOptions::new())
        .await
        .unwrap();
    assert!(
        numbered
            .iter()
            .all(|s| s.path.to_string_lossy().contains("-1.")),
        "{numbered:?}"
    );
    let replaced = client
        .download_outputs(&result, &dir, &DownloadOptions::new().overwrite(true))
        .await
        .unwrap();
    assert_eq!(
        replaced.iter().map(|s| &s.path).collect::<Vec<_>>(),
        first.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    assert_eq!(files_in(&dir).len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}
