//! Typed workflows (`flowscale::codegen`, from `tests/typed/flowscale.lock`; the types are
//! checked in and kept equal to what codegen writes by `tests/typed.rs`): they run, wait
//! and batch like `Inputs`, send each field under its input's name, and find the outputs
//! by their names in the lock.

use std::time::Duration;

use flowscale::mock::{MockServer, MockWorkflow};
use flowscale::{Batch, Inputs, Job, JobStatus, ValueKind, WaitOptions};

use super::{Client, case, maybe_async};
use crate::common::fixture;

mod workflows {
    include!("../typed/workflows.rs");
}
use workflows::{ImageToImage, TextToImage};

/// The simulator's workflows as the lock has them: required where the lock says.
fn server() -> MockServer {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new(TextToImage::ID)
            .required_input("text_51536")
            .input("seed_3", ValueKind::Number)
            .outputs(["image_output"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(30)),
    );
    server.register(
        MockWorkflow::new(ImageToImage::ID)
            .required_input("image_35728")
            .input("strength_7", ValueKind::Number)
            .input("text_51536", ValueKind::Text)
            .outputs(["filename_prefix", "preview"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(30)),
    );
    server
}

fn quick() -> WaitOptions {
    WaitOptions::new()
        .poll_interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(20))
}

#[maybe_async]
#[case]
async fn a_typed_run_sends_each_field_under_its_input_name_and_names_its_outputs() {
    let server = server();
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let inputs = TextToImage {
        text: "a cat".into(),
        seed: Some(u64::MAX.into()),
    };
    let result = client
        .execute_workflow_and_wait(TextToImage::ID, inputs, &quick())
        .await
        .unwrap();
    let run = server.run(&result.run_id).unwrap();
    assert_eq!(run.workflow_id, "typed-txt2img");
    let mut fields = run.fields.clone();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("seed_3".to_owned(), "18446744073709551615".to_owned()),
            ("text_51536".to_owned(), "a cat".to_owned()),
        ]
    );
    let image = TextToImage::outputs(&result).image_output.unwrap();
    assert!(image.name.starts_with("image_output_"), "{}", image.name);
    let bytes = client
        .download_bytes(&image.download_url, 1 << 20)
        .await
        .unwrap();
    assert_eq!(Some(bytes), server.output_bytes(&image.name));
}

#[maybe_async]
#[case]
async fn a_typed_file_input_is_uploaded_and_an_input_left_out_is_not_sent() {
    let server = server();
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let inputs = ImageToImage {
        image: fixture("cat.png").into(),
        strength: None,
        text: Some("repaint it".into()),
    };
    let exec = client
        .execute_workflow(ImageToImage::ID, inputs)
        .await
        .unwrap();
    let run = server.run(&exec.run_id).unwrap();
    assert_eq!(
        run.fields,
        [("text_51536".to_owned(), "repaint it".to_owned())]
    );
    assert_eq!(run.files.len(), 1);
    assert_eq!(run.files[0].name, "image_35728");
    assert_eq!(run.files[0].filename, "cat.png");
    assert_eq!(
        run.files[0].bytes,
        std::fs::read(fixture("cat.png")).unwrap()
    );
}

#[maybe_async]
#[case]
async fn typed_jobs_make_a_batch_and_each_saves_its_outputs() {
    let server = server();
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let dir = crate::common::fresh_dir("typed-batch");
    let jobs = ["red", "blue"].map(|colour| {
        let inputs = ImageToImage {
            image: fixture("cat.png").into(),
            strength: Some(0.5.into()),
            text: Some(format!("a {colour} cat")),
        };
        Job::new(colour, inputs)
    });
    let report = client
        .run_batch(
            Batch::new(ImageToImage::ID, &dir)
                .jobs(jobs)
                .wait_options(quick()),
        )
        .await
        .unwrap();
    assert_eq!(report.count(JobStatus::Completed), 2, "{report:#?}");
    assert!(
        report.jobs.iter().all(|j| j.saved.len() == 2),
        "{report:#?}"
    );
    let texts: Vec<String> = (server.runs().iter())
        .flat_map(|r| {
            r.fields
                .iter()
                .filter(|f| f.0 == "text_51536")
                .map(|f| f.1.clone())
        })
        .collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.contains(&"a red cat".to_owned()) && texts.contains(&"a blue cat".to_owned()));
    // The typed value is the same `Inputs` the untyped API builds.
    let typed: Inputs = TextToImage {
        text: "x".into(),
        seed: None,
    }
    .into();
    assert_eq!(typed.len(), 1);
}
