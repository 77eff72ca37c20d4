//! Downloads: redirects followed without the key, errors leave no file behind.

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, Recorder};
use flowscale::Error;

/// A fresh, empty directory per call (the blocking and async cases run side by side).
fn temp(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("flowscale-dl-{}-{name}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("out.png")
}

#[maybe_async]
#[case]
async fn downloads_follow_redirects_without_the_key() {
    let mut storage = server().await;
    let rec = Recorder::new();
    let file = storage
        .mock("GET", "/bucket/out.png")
        .match_query(mockito::Matcher::Any)
        .match_request(rec.matcher())
        .with_header("content-type", "image/png")
        .with_body(vec![7u8; 100_000])
        .create();
    let mut cdn = server().await;
    let hop = cdn
        .mock("GET", "/dl/out.png")
        .match_request(rec.matcher())
        .with_status(302)
        .with_header(
            "location",
            &format!("{}/bucket/out.png?X-Amz-Signature=abc", storage.url()),
        )
        .create();
    let dest = temp("redirect");
    let client = Client::new(KEY, "http://127.0.0.1:9").unwrap();
    let n = client
        .download(&format!("{}/dl/out.png", cdn.url()), &dest)
        .await
        .unwrap();
    assert_eq!(n, 100_000);
    assert_eq!(std::fs::read(&dest).unwrap(), vec![7u8; 100_000]);
    hop.assert();
    file.assert();
    let seen = rec.all();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.api_key.is_none()), "{seen:?}");
    std::fs::remove_dir_all(dest.parent().unwrap()).unwrap();
}

#[maybe_async]
#[case]
async fn failed_downloads_leave_nothing_behind() {
    let mut storage = server().await;
    let _gone = storage
        .mock("GET", "/expired.png")
        .with_status(403)
        .with_header("content-type", "application/xml")
        .with_body("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
        .create();
    let dest = temp("expired");
    let client = Client::new(KEY, "http://127.0.0.1:9").unwrap();
    let err = client
        .download(&format!("{}/expired.png", storage.url()), &dest)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("Request has expired"), "{err}");
    let dir = dest.parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no file, no .part"
    );

    for (url, dest) in [
        ("ftp://host/x.png", dest.clone()),
        ("http://host/x.png", dir.clone()),
    ] {
        let err = client.download(url, &dest).await.unwrap_err();
        assert!(matches!(err, Error::Input { .. }), "{err:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[maybe_async]
#[case]
async fn a_link_planted_at_the_partial_name_is_never_followed() {
    let mut storage = server().await;
    let _m = storage
        .mock("GET", "/out.png")
        .with_body("downloaded")
        .create();
    let dest = temp("planted");
    let dir = dest.parent().unwrap().to_path_buf();
    let precious = dir.join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    std::os::unix::fs::symlink(&precious, dir.join("out.png.part")).unwrap();
    let client = Client::new(KEY, "http://127.0.0.1:9").unwrap();
    let err = client
        .download(&format!("{}/out.png", storage.url()), &dest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(!dest.exists());

    // A partial file of our own, left by a killed process, is taken over.
    std::fs::remove_file(dir.join("out.png.part")).unwrap();
    std::fs::write(dir.join("out.png.part"), "half").unwrap();
    let n = client
        .download(&format!("{}/out.png", storage.url()), &dest)
        .await
        .unwrap();
    assert_eq!(n, 10);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "downloaded");
    assert!(!dir.join("out.png.part").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
