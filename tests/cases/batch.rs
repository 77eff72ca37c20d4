//! Batches: bounded concurrency, a manifest that survives a stop, resume without paying
//! twice, failures reported and retried only when asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::mock::{MockServer, MockWorkflow};
use flowscale::{Batch, BatchEvent, Error, Inputs, Job, JobStatus, WaitOptions};

use super::{Client, case, maybe_async};
use crate::common::{count, executes};

/// 20 jobs; every fifth lacks the required input, so its submission fails (422).
fn jobs(first_text: &str) -> Vec<Job> {
    (0..20)
        .map(|i| {
            let inputs = if i % 5 == 4 {
                Inputs::new().set("other", i)
            } else if i == 0 {
                Inputs::new().set("text_1", first_text)
            } else {
                Inputs::new().set("text_1", format!("job {i}"))
            };
            Job::new(format!("job-{i}"), inputs)
        })
        .collect()
}

#[maybe_async]
#[case]
async fn a_stopped_batch_resumes_without_submitting_anything_twice() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .required_input("text_1")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            // Far longer than the first run's waits, even when a busy disk makes each
            // synced manifest line slow to write.
            .duration(Duration::from_secs(3)),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let dir = crate::common::fresh_dir("batch");

    // Run 1: stopped after 8 submissions; waits too short to see any run finish, as if
    // the process had been killed while waiting.
    let stop = Arc::new(AtomicBool::new(false));
    let submitted = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (stop.clone(), submitted.clone());
    let max_running = Arc::new(AtomicUsize::new(0));
    let most = max_running.clone();
    let quick_wait = WaitOptions::new()
        .timeout(Duration::from_millis(150))
        .poll_interval(Duration::from_millis(50));
    let batch = Batch::new("wf", &dir)
        .jobs(jobs("job 0"))
        .concurrency(4)
        .wait_options(quick_wait)
        .stop_on(stop.clone())
        .on_event(move |event| {
            if let BatchEvent::Submitted { counts, .. } = event {
                most.fetch_max(counts.running, Ordering::SeqCst);
                if count.fetch_add(1, Ordering::SeqCst) + 1 >= 8 {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        });
    let first = client.run_batch(batch).await.unwrap();
    assert_eq!(first.jobs.len(), 20);
    assert_eq!(first.count(JobStatus::Completed), 0);
    assert!(first.count(JobStatus::Submitted) >= 8, "{first:#?}");
    assert!(first.count(JobStatus::NotStarted) >= 1, "{first:#?}");
    assert!(
        max_running.load(Ordering::SeqCst) <= 4,
        "the concurrency bound holds"
    );
    let after_first = executes(&server);
    assert!(dir.join(flowscale::constants::MANIFEST_FILE).is_file());

    // Run 2: attaches to every recorded run, submits only the rest.
    let attached = Arc::new(Mutex::new(0usize));
    let seen = attached.clone();
    let wait = WaitOptions::new().poll_interval(Duration::from_millis(50));
    let batch = Batch::new("wf", &dir)
        .jobs(jobs("job 0"))
        .concurrency(4)
        .wait_options(wait.clone())
        .on_event(move |event| {
            if matches!(event, BatchEvent::Attached { .. }) {
                *seen.lock().unwrap() += 1;
            }
        });
    let second = client.run_batch(batch).await.unwrap();
    assert_eq!(second.count(JobStatus::Completed), 16, "{second:#?}");
    assert_eq!(second.count(JobStatus::Failed), 4, "{second:#?}");
    assert!(*attached.lock().unwrap() >= 8);
    // Every job was submitted exactly once over both runs.
    assert_eq!(executes(&server), 20, "{after_first} in the first run");
    for job in &second.jobs {
        match job.status {
            JobStatus::Completed => {
                assert_eq!(job.saved.len(), 1);
                assert!(
                    job.saved
                        .iter()
                        .all(|s| s.path.is_file() && s.path.starts_with(&dir))
                );
            }
            _ => assert!(
                job.error.as_deref().is_some_and(|e| e.contains("422")),
                "{job:?}"
            ),
        }
    }

    // Run 3: nothing left to do but the job whose inputs changed; failures are reported
    // from the manifest.
    let third = client
        .run_batch(
            Batch::new("wf", &dir)
                .jobs(jobs("a new prompt"))
                .wait_options(wait.clone()),
        )
        .await
        .unwrap();
    assert_eq!(executes(&server), 21);
    assert_eq!(third.count(JobStatus::Completed), 16);
    assert!(!third.jobs[0].reused && third.jobs[1].reused && third.jobs[4].reused);

    // Run 4: failed jobs are submitted again when asked.
    let fourth = client
        .run_batch(
            Batch::new("wf", &dir)
                .jobs(jobs("a new prompt"))
                .wait_options(wait)
                .retry_failed(true),
        )
        .await
        .unwrap();
    assert_eq!(executes(&server), 25);
    assert_eq!(fourth.count(JobStatus::Failed), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A workflow whose runs end at once, and a client for it.
fn quick_server() -> (MockServer, Client) {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(50)),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    (server, client)
}

fn quick_wait() -> WaitOptions {
    WaitOptions::new().poll_interval(Duration::from_millis(50))
}

fn manifest_lines(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(flowscale::constants::MANIFEST_FILE))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[maybe_async]
#[case]
async fn a_torn_manifest_tail_is_repaired_and_bad_lines_are_reported() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("torn");
    let batch = || {
        Batch::new("wf", &dir)
            .job(Job::new("one", Inputs::new().set("text_1", "a cat")))
            .wait_options(quick_wait())
    };
    let first = client.run_batch(batch()).await.unwrap();
    assert!(first.all_completed());
    // A complete line that is not a record, then what a crash mid-write leaves.
    let manifest = dir.join(flowscale::constants::MANIFEST_FILE);
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.insert_str(0, "not a record\n");
    text.push_str(r#"{"v":1,"fingerprint":"ab"#);
    std::fs::write(&manifest, text).unwrap();
    // A missing file makes the job attach again, so the run appends records.
    let saved = &first.jobs[0].saved[0].path;
    std::fs::remove_file(saved).unwrap();

    let skipped = Arc::new(Mutex::new(Vec::new()));
    let seen = skipped.clone();
    let second = client
        .run_batch(batch().on_event(move |e| {
            if let BatchEvent::SkippedLine { skipped } = e {
                seen.lock().unwrap().push(skipped.line);
            }
        }))
        .await
        .unwrap();
    assert!(second.all_completed() && saved.is_file(), "{second:?}");
    assert_eq!(
        *skipped.lock().unwrap(),
        [1],
        "the bad line is reported by number"
    );
    // The torn tail is gone and every record line is whole, versioned JSON.
    for line in &manifest_lines(&dir)[1..] {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(record["version"], 1, "{line}");
    }
    assert_eq!(executes(&server), 1, "attached, never submitted again");
}

#[maybe_async]
#[case]
async fn identical_inputs_under_two_names_are_two_runs_and_one_name_twice_is_refused() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("samples");
    let sample = |name: &str| Job::new(name, Inputs::new().set("text_1", "a lighthouse"));
    let report = client
        .run_batch(
            Batch::new("wf", &dir)
                .jobs([sample("sample-1"), sample("sample-2")])
                .wait_options(quick_wait()),
        )
        .await
        .unwrap();
    assert!(report.all_completed(), "{report:?}");
    assert_eq!(executes(&server), 2);
    assert_ne!(report.jobs[0].run_id, report.jobs[1].run_id);
    assert_ne!(report.jobs[0].saved[0].path, report.jobs[1].saved[0].path);

    let err = client
        .run_batch(Batch::new("wf", &dir).jobs([sample("twin"), sample("twin")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Input { field, .. } if field == "jobs"),
        "{err}"
    );
    assert_eq!(executes(&server), 2, "nothing sent");
}

#[maybe_async]
#[case]
async fn a_revoked_key_leaves_the_job_submitted_and_the_next_run_attaches() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(300)),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let dir = crate::common::fresh_dir("revoked");
    let job = || Job::new("one", Inputs::new().set("text_1", "a cat"));
    let server = Arc::new(server);
    let handle = server.clone();
    let first = client
        .run_batch(
            Batch::new("wf", &dir)
                .job(job())
                .wait_options(quick_wait())
                // The key is rotated the moment the run is submitted.
                .on_event(move |e| {
                    if matches!(e, BatchEvent::Submitted { .. }) {
                        handle.set_api_key("rotated-key");
                    }
                }),
        )
        .await
        .unwrap();
    let job_outcome = &first.jobs[0];
    assert_eq!(job_outcome.status, JobStatus::Submitted, "{job_outcome:?}");
    assert!(
        job_outcome.error.as_deref().unwrap_or("").contains("403"),
        "{job_outcome:?}"
    );

    let rotated = Client::new("rotated-key", server.url()).unwrap();
    let second = rotated
        .run_batch(Batch::new("wf", &dir).job(job()).wait_options(quick_wait()))
        .await
        .unwrap();
    assert!(second.all_completed(), "{second:?}");
    assert_eq!(second.jobs[0].run_id, job_outcome.run_id);
    assert_eq!(executes(&server), 1, "the run is not paid for twice");
}

#[maybe_async]
#[case]
async fn a_manifest_that_points_outside_its_directory_is_refused() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("hostile-manifest");
    let job = || Job::new("one", Inputs::new().set("text_1", "a cat"));
    let fingerprint = Inputs::new()
        .set("text_1", "a cat")
        .fingerprint("wf", None)
        .unwrap();
    for path in ["/etc/hostname", "../../../../etc/hostname"] {
        let record = serde_json::json!({
            "v": 1, "fingerprint": fingerprint, "job": "one", "run_id": "r1",
            "status": "completed", "saved": [{"name": "x", "path": path, "bytes": 1}],
        });
        std::fs::write(
            dir.join(flowscale::constants::MANIFEST_FILE),
            format!("{record}\n"),
        )
        .unwrap();
        let err = client
            .run_batch(Batch::new("wf", &dir).job(job()))
            .await
            .unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            chain.contains("line 1") && chain.contains("not inside"),
            "{chain}"
        );
    }
    // A link inside the directory that leads out of it is refused too.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
        let record = serde_json::json!({
            "v": 1, "fingerprint": fingerprint, "job": "one", "run_id": "r1",
            "status": "completed", "saved": [{"name": "x", "path": "link/hostname", "bytes": 1}],
        });
        std::fs::write(
            dir.join(flowscale::constants::MANIFEST_FILE),
            format!("{record}\n"),
        )
        .unwrap();
        if std::path::Path::new("/etc/hostname").is_file() {
            let err = client
                .run_batch(Batch::new("wf", &dir).job(job()))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Io { .. }), "{err}");
        }
    }
    assert_eq!(executes(&server), 0);
}

#[cfg(target_os = "linux")]
#[maybe_async]
#[case]
async fn a_manifest_write_that_fails_stops_the_batch_with_an_error() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("full-disk");
    // Every write to /dev/full fails as on a full disk.
    std::os::unix::fs::symlink("/dev/full", dir.join(flowscale::constants::MANIFEST_FILE)).unwrap();
    let jobs = (0..3).map(|i| Job::new(format!("job-{i}"), Inputs::new().set("text_1", i)));
    let err = client
        .run_batch(Batch::new("wf", &dir).jobs(jobs).wait_options(quick_wait()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(
        executes(&server),
        0,
        "nothing is submitted that cannot be recorded"
    );
}

#[maybe_async]
#[case]
async fn a_submission_whose_answer_cannot_be_read_is_recorded_by_the_run_it_names() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("unreadable-answer");
    // The run starts; its answer comes in a shape no client knows.
    server.fail_next(
        flowscale::mock::Route::Execute,
        1,
        flowscale::mock::Fault::UnknownShape,
    );
    let job = || Job::new("one", Inputs::new().set("text_1", "a cat"));
    let report = client
        .run_batch(Batch::new("wf", &dir).job(job()).wait_options(quick_wait()))
        .await
        .unwrap();
    let runs = server.runs();
    assert_eq!(runs.len(), 1);
    assert!(report.all_completed(), "{report:?}");
    assert_eq!(report.jobs[0].run_id.as_deref(), Some(runs[0].id.as_str()));
    // Run again: reused, nothing paid twice.
    let again = client
        .run_batch(Batch::new("wf", &dir).job(job()).wait_options(quick_wait()))
        .await
        .unwrap();
    assert!(again.jobs[0].reused);
    assert_eq!(executes(&server), 1);
}

#[maybe_async]
#[case]
async fn a_lost_submission_that_cannot_be_named_is_not_submitted_again() {
    let (server, client) = quick_server();
    // FlowScale's OpenAPI file lists runs without their ids.
    server.serve_shapes(flowscale::mock::Shapes::Spec);
    let dir = crate::common::fresh_dir("unnamed-lost");
    let inputs = || Inputs::new().set("text_1", "a cat");
    // What a process killed with the submission on the wire leaves: the intent, and the
    // run it started.
    // (A group: the OpenAPI file requires one to list runs.)
    client
        .execute_workflow("wf", inputs().group_id("g"))
        .await
        .unwrap();
    lost_intent_in(&dir, "one", &inputs(), Some("g"));

    let report = client
        .run_batch(
            Batch::new("wf", &dir)
                .group_id("g")
                .job(Job::new("one", inputs())),
        )
        .await
        .unwrap();
    let job = &report.jobs[0];
    assert_eq!(job.status, JobStatus::Unknown, "{job:?}");
    let error = job.error.as_deref().unwrap_or("");
    assert!(
        error.contains("without its id") && error.contains("--attach one=RUN_ID"),
        "{job:?}"
    );
    assert_eq!(
        executes(&server),
        1,
        "nothing submitted that may be paid for already"
    );
}

/// What a process killed with a submission on the wire leaves in `dir`: the intent to send
/// job `name` with `inputs`, and no answer.
fn lost_intent(dir: &std::path::Path, name: &str, inputs: &Inputs) {
    lost_intent_in(dir, name, inputs, None);
}

/// The same, for a batch filed under `group`.
fn lost_intent_in(dir: &std::path::Path, name: &str, inputs: &Inputs, group: Option<&str>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let intent = serde_json::json!({
        "v": 1, "fingerprint": inputs.fingerprint("wf", group).unwrap(), "job": name,
        "run_id": null, "status": "submitted", "sent_at": now,
    });
    std::fs::write(
        dir.join(flowscale::constants::MANIFEST_FILE),
        format!("{intent}\n"),
    )
    .unwrap();
}

#[maybe_async]
#[case]
async fn a_lost_submission_not_found_is_unknown_until_the_caller_decides() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("unknown-lost");
    let inputs = || Inputs::new().set("text_1", "a lighthouse");
    lost_intent(&dir, "one", &inputs());
    let batch = || {
        Batch::new("wf", &dir)
            .job(Job::new("one", inputs()))
            .wait_options(quick_wait())
    };

    // No run of it is listed: a doubt, never a silent second payment.
    let report = client.run_batch(batch()).await.unwrap();
    let job = &report.jobs[0];
    assert_eq!(job.status, JobStatus::Unknown, "{job:?}");
    let error = job.error.as_deref().unwrap();
    assert!(
        error.contains("flowscale runs --since") && error.contains("--resubmit-unknown"),
        "{error}"
    );
    assert_eq!(executes(&server), 0);
    // Asked again, the same answer: the doubt stays until someone decides.
    let report = client.run_batch(batch()).await.unwrap();
    assert_eq!(report.jobs[0].status, JobStatus::Unknown);
    assert_eq!(executes(&server), 0);

    // Told to, it is submitted: once.
    let report = client
        .run_batch(batch().resubmit_unknown(true))
        .await
        .unwrap();
    assert!(report.all_completed(), "{report:?}");
    assert_eq!(executes(&server), 1);
    let again = client
        .run_batch(batch().resubmit_unknown(true))
        .await
        .unwrap();
    assert!(again.jobs[0].reused);
    assert_eq!(executes(&server), 1);
}

#[maybe_async]
#[case]
async fn an_unknown_job_attaches_to_the_run_the_caller_names() {
    let (server, client) = quick_server();
    let dir = crate::common::fresh_dir("unknown-attach");
    let inputs = || Inputs::new().set("text_1", "a harbour");
    lost_intent(&dir, "one", &inputs());
    // The run the user found (say, its inputs are listed in another form): not matched
    // automatically, named by hand.
    let run = client
        .execute_workflow("wf", Inputs::new().set("text_1", "a harbour, at night"))
        .await
        .unwrap();
    let batch = || {
        Batch::new("wf", &dir)
            .job(Job::new("one", inputs()))
            .wait_options(quick_wait())
    };
    let report = client.run_batch(batch()).await.unwrap();
    assert_eq!(report.jobs[0].status, JobStatus::Unknown);
    let report = client
        .run_batch(batch().attach("one", &run.run_id))
        .await
        .unwrap();
    assert!(report.all_completed(), "{report:?}");
    assert_eq!(report.jobs[0].run_id.as_deref(), Some(run.run_id.as_str()));
    assert_eq!(
        executes(&server),
        1,
        "nothing submitted for the attached job"
    );
    // A name the batch does not have is refused before anything is sent.
    let err = client
        .run_batch(batch().attach("onee", &run.run_id))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Input { .. }), "{err}");
}

#[maybe_async]
#[case]
async fn what_fails_before_sending_leaves_the_job_not_started_never_looked_for() {
    let (server, _) = quick_server();
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .check_inputs(true)
        .retry(flowscale::RetryPolicy::none())
        .build()
        .unwrap();
    let dir = crate::common::fresh_dir("not-sent");
    // The catalog cannot be fetched, and a file is missing: nothing goes out.
    server.fail_next(
        flowscale::mock::Route::Workflows,
        1,
        flowscale::mock::Fault::Status(503),
    );
    let missing = dir.join("missing.png");
    let jobs = [
        Job::new("catalog", Inputs::new().set("text_1", "x")),
        Job::new("file", Inputs::new().set("image", missing.as_path())),
    ];
    let report = client
        .run_batch(
            Batch::new("wf", &dir)
                .jobs(jobs)
                .concurrency(1)
                .wait_options(quick_wait()),
        )
        .await
        .unwrap();
    for job in &report.jobs {
        assert_eq!(job.status, JobStatus::NotStarted, "{job:?}");
        assert!(
            job.error.as_deref().unwrap().starts_with("not submitted"),
            "{job:?}"
        );
    }
    assert_eq!(executes(&server), 0);
    assert_eq!(
        count(&server, "GET", "/api/v1/runs"),
        0,
        "nothing was looked for"
    );
    // Run again with the catalog back: the first is submitted, with no doubt to settle.
    let report = client
        .run_batch(
            Batch::new("wf", &dir)
                .job(Job::new("catalog", Inputs::new().set("text_1", "x")))
                .wait_options(quick_wait()),
        )
        .await
        .unwrap();
    assert!(report.all_completed(), "{report:?}");
    assert_eq!(executes(&server), 1);
}

#[maybe_async]
#[case]
async fn a_batch_on_an_unknown_workflow_pays_nothing_and_runs_once_it_exists() {
    let server = MockServer::start();
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let dir = crate::common::fresh_dir("batch-unknown");
    let jobs = || (0..4).map(|i| Job::new(format!("j{i}"), Inputs::new().set("n", i)));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let seen = outcomes.clone();
    let err = client
        .run_batch(
            Batch::new("later", &dir)
                .jobs(jobs())
                .concurrency(1)
                .on_event(move |e| {
                    if let BatchEvent::Finished { outcome, .. } = e {
                        seen.lock().unwrap().push(outcome.clone());
                    }
                }),
        )
        .await
        .unwrap_err();
    // The error every job would meet, after the first: not "failed on FlowScale".
    assert!(err.is_not_found(), "{err}");
    assert_eq!(executes(&server), 1);
    assert!(server.runs().is_empty());
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), 4, "every job is reported: {outcomes:#?}");
    for outcome in &outcomes {
        assert_eq!(outcome.status, JobStatus::NotStarted, "{outcome:?}");
    }
    server.register(MockWorkflow::new("later").duration(Duration::from_millis(50)));
    let report = client
        .run_batch(
            Batch::new("later", &dir)
                .jobs(jobs())
                .wait_options(WaitOptions::new().poll_interval(Duration::from_millis(20))),
        )
        .await
        .unwrap();
    assert!(report.all_completed(), "{report:#?}");
    assert_eq!(server.runs().len(), 4);
}

#[maybe_async]
#[case]
async fn stopping_a_batch_stops_its_uploads_in_flight() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_millis(50)));
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let dir = crate::common::fresh_dir("batch-stop-uploads");
    // The batch is stopped once both uploads are under way (a Ctrl-C, say).
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut jobs = Vec::new();
    for i in 0..2 {
        let path = dir.join(format!("in{i}.png"));
        std::fs::write(&path, vec![7u8; 24 << 20]).unwrap();
        let (flag, started) = (stop.clone(), started.clone());
        let counted = Mutex::new(false);
        let inputs = Inputs::new().file("image", path).on_progress(move |p| {
            let mut once = counted.lock().unwrap();
            if p.done > 0 && !*once {
                *once = true;
                if started.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        });
        jobs.push(Job::new(format!("j{i}"), inputs));
    }
    // The pod reads each body only after 4 s: both uploads are going out when it stops.
    server.fail_next(
        flowscale::mock::Route::Execute,
        2,
        flowscale::mock::Fault::Delay(Duration::from_secs(4)),
    );
    let report = client
        .run_batch(
            Batch::new("wf", dir.join("out"))
                .jobs(jobs)
                .concurrency(2)
                .stop_on(stop),
        )
        .await
        .unwrap();
    assert_eq!(report.count(JobStatus::NotStarted), 2, "{report:#?}");
    std::thread::sleep(Duration::from_secs(5));
    assert!(server.runs().is_empty(), "a stopped upload became a run");
}
