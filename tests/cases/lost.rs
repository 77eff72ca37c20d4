//! A submission's state, and what a lost answer is matched with: only its own run, for
//! certain (the same workflow, exactly the inputs sent, files by name and size, created
//! since it was sent, the only such run), else a doubt that names the runs that may be it.

use std::time::Duration;

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Error, Inputs, Paid, SubmissionHandle, SubmissionState};

use super::{Client, case, maybe_async};
use crate::common::executes;

/// A simulator with `wf` and a client whose answers time out after three seconds (the
/// lost answers below are held back twenty).
fn setup() -> (MockServer, Client) {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_secs(30)));
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .response_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    (server, client)
}

/// The next submission's answer comes too late for the client: the run exists, its
/// answer is lost.
fn lose_next_answer(server: &MockServer) {
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
}

#[maybe_async]
#[case]
async fn a_lost_answer_finds_its_own_run_never_one_with_more_inputs() {
    let (server, client) = setup();
    let earlier = client
        .execute_workflow("wf", Inputs::new().set("text", "a fox").set("seed", 1))
        .await
        .unwrap();
    lose_next_answer(&server);
    let handle = SubmissionHandle::new();
    let exec = client
        .execute_workflow("wf", Inputs::new().set("text", "a fox").track(&handle))
        .await
        .unwrap();
    let runs = server.runs();
    assert_eq!(runs.len(), 2);
    assert_ne!(exec.run_id, earlier.run_id);
    assert_eq!(exec.run_id, runs[1].id);
    assert!(exec.recovered);
    let why = exec.recovery.as_deref().unwrap();
    assert!(why.contains("exactly the 1 field(s) sent"), "{why}");
    match handle.state() {
        SubmissionState::Found { run_id, .. } => assert_eq!(run_id, runs[1].id),
        other => panic!("{other:?}"),
    }
    assert_eq!(handle.state().paid(), Paid::Yes);
}

#[maybe_async]
#[case]
async fn two_runs_that_match_a_lost_answer_are_a_doubt_naming_both() {
    let (server, client) = setup();
    // The same inputs a moment before, from another client (another process): its run
    // cannot be told from the lost one's.
    let other = Client::new(server.api_key(), server.url()).unwrap();
    let first = other
        .execute_workflow("wf", [("text", "twins")])
        .await
        .unwrap();
    lose_next_answer(&server);
    let handle = SubmissionHandle::new();
    let err = client
        .execute_workflow("wf", Inputs::new().set("text", "twins").track(&handle))
        .await
        .unwrap_err();
    let Error::AnswerLost { candidates, .. } = &err else {
        panic!("{err:?}");
    };
    let second = &server.runs()[1].id;
    assert!(candidates.contains(&first.run_id), "{err}");
    assert!(candidates.contains(second), "{err}");
    assert!(err.to_string().contains("a run may have started"), "{err}");
    assert_eq!(handle.state().paid(), Paid::Maybe);
    assert_eq!(executes(&server), 2);
}

#[maybe_async]
#[case]
async fn a_run_the_client_was_answered_with_is_never_a_lost_answers() {
    let (server, client) = setup();
    let first = client
        .execute_workflow("wf", [("text", "claimed")])
        .await
        .unwrap();
    lose_next_answer(&server);
    // The first run is this client's own submission's: only the second is the lost one's.
    let exec = client
        .execute_workflow("wf", [("text", "claimed")])
        .await
        .unwrap();
    assert_ne!(exec.run_id, first.run_id);
    assert_eq!(exec.run_id, server.runs()[1].id);
}

#[maybe_async]
#[case]
async fn a_file_is_matched_by_its_size_as_well_as_its_name() {
    let (server, client) = setup();
    let dir = crate::common::fresh_dir("lost-file");
    let (small, large) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&small).unwrap();
    std::fs::create_dir_all(&large).unwrap();
    std::fs::write(small.join("cat.png"), [1u8; 10]).unwrap();
    std::fs::write(large.join("cat.png"), [2u8; 20]).unwrap();
    // An earlier run whose file has the same name and another size, a second apart.
    client
        .execute_workflow("wf", Inputs::new().file("image", small.join("cat.png")))
        .await
        .unwrap();
    lose_next_answer(&server);
    let exec = client
        .execute_workflow("wf", Inputs::new().file("image", large.join("cat.png")))
        .await
        .unwrap();
    assert_eq!(exec.run_id, server.runs()[1].id);
    assert!(
        exec.recovery
            .as_deref()
            .unwrap()
            .contains("1 file(s) by name and size")
    );
}

#[maybe_async]
#[case]
async fn a_lost_answer_whose_runs_cannot_be_listed_is_a_doubt() {
    let (server, client) = setup();
    lose_next_answer(&server);
    server.fail_next(Route::RunList, 100, Fault::Status(503));
    let handle = SubmissionHandle::new();
    let err = client
        .execute_workflow("wf", Inputs::new().set("text", "unlisted").track(&handle))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AnswerLost { .. }), "{err:?}");
    match handle.state() {
        SubmissionState::Doubt { reason, .. } => {
            assert!(reason.contains("could not be listed"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[maybe_async]
#[case]
async fn a_handle_says_what_is_known_of_its_submission() {
    let (server, client) = setup();
    let handle = SubmissionHandle::new();
    let inputs = Inputs::new().set("text", "watched").track(&handle);
    assert_eq!(handle.state(), SubmissionState::Pending);
    let exec = client.execute_workflow("wf", inputs).await.unwrap();
    assert_eq!(handle.state().run_id(), Some(exec.run_id.as_str()));
    // Stopped before it was sent: nothing was submitted.
    let stopped = SubmissionHandle::new();
    stopped.stop();
    let err = client
        .execute_workflow("wf", Inputs::new().set("text", "never").track(&stopped))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Input { .. }), "{err:?}");
    assert!(
        matches!(stopped.state(), SubmissionState::NotSubmitted { .. }),
        "{:?}",
        stopped.state()
    );
    assert_eq!(server.runs().len(), 1);
    // A 404 for the workflow: refused, nothing paid.
    let refused = SubmissionHandle::new();
    let err = client
        .execute_workflow("nope", Inputs::new().track(&refused))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(refused.state(), SubmissionState::Refused { status: 404 });
    assert_eq!(refused.state().paid(), Paid::No);
}

#[maybe_async]
#[case]
async fn checked_inputs_refuse_an_empty_or_foreign_file_before_sending() {
    let server = MockServer::start();
    for workflow in flowscale::mock::demo_workflows() {
        server.register(workflow);
    }
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .check_inputs(true)
        .build()
        .unwrap();
    let dir = crate::common::fresh_dir("check-media");
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, b"these are notes").unwrap();
    for (file, why) in [(&empty, "is empty"), (&text, "is not an image")] {
        let err = client
            .execute_workflow(
                "demo-img2img",
                Inputs::new()
                    .set("text_51536", "a cat")
                    .file("image_35728", file),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Input { field, .. } if field == "image_35728"),
            "{err:?}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
    assert_eq!(executes(&server), 0);
}
