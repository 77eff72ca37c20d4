//! Batches: bounded concurrency, a manifest that survives a stop, resume without paying
//! twice, failures reported and retried only when asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::mock::{MockServer, Workflow};
use flowscale::{Batch, BatchEvent, Inputs, Job, JobStatus, WaitOptions};

use super::{Client, case, maybe_async};
use crate::common::executes;

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
        Workflow::new("wf")
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
    assert!(dir.join(flowscale::MANIFEST_FILE).is_file());

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
