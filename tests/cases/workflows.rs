//! The workflow catalog (`workflows()`) in both documented shapes, and inputs checked against
//! it before a paid run: by hand (`Inputs::check`) and on every submission
//! (`ClientBuilder::check_inputs`).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, fixture, ok};
use flowscale::mock::{MockServer, MockWorkflow, Shapes};
use flowscale::{Error, Inputs, ValueKind};

fn checking(server: &MockServer) -> Client {
    Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .check_inputs(true)
        .build()
        .unwrap()
}

/// A text-to-image workflow as the catalog lists it: a prompt, an image, a number.
fn txt2img() -> MockWorkflow {
    MockWorkflow::new("txt2img")
        .name("Text to Image")
        .description("makes images")
        .input("text_51536", ValueKind::Text)
        .required_input("image_35728")
        .input("seed_3", ValueKind::Number)
        .outputs(["image_output"])
        .queued_for(Duration::ZERO)
        .duration(Duration::ZERO)
}

fn executes(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/runs")
        .count()
}

fn catalog_fetches(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/comfy/workflows")
        .count()
}

#[maybe_async]
#[case]
async fn both_documented_catalog_shapes_decode_alike() {
    // As text: the inputs' order is the catalog's, and `json!` would sort it.
    let python = r#"{"workflows": [{
        "workflow_id": "bncu0a1kipv", "name": "Text to Image", "description": null,
        "inputs": {"text_51536": "string", "image_35728": "image"},
        "outputs": ["image_output"]
    }]}"#;
    let js = r#"[{
        "id": "bncu0a1kipv", "name": "Text to Image", "description": "",
        "inputs": "{ \"text_51536\": \"string\", \"image_35728\": \"image\" }",
        "outputs": "{ \"image_output\": \"image\" }"
    }]"#;
    let mut decoded = Vec::new();
    for data in [python, js] {
        let mut server = server().await;
        let m = server
            .mock("GET", "/api/v1/comfy/workflows")
            .match_header("x-api-key", KEY)
            .with_body(format!(r#"{{"status": "success", "data": {data}}}"#))
            .create();
        let client = Client::new(KEY, server.url()).unwrap();
        let list = client.workflows().await.unwrap().expect("a catalog");
        m.assert();
        decoded.push(list);
    }
    for list in &decoded {
        let wf = &list[0];
        assert_eq!(wf.id, "bncu0a1kipv");
        assert_eq!(wf.name, "Text to Image");
        assert_eq!(wf.description, None);
        let inputs: Vec<_> = wf
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), &i.kind))
            .collect();
        assert_eq!(
            inputs,
            [
                ("text_51536", &ValueKind::Text),
                ("image_35728", &ValueKind::Image)
            ]
        );
        assert_eq!(wf.outputs[0].name, "image_output");
    }
    assert_eq!(decoded[0][0].inputs, decoded[1][0].inputs);
}

#[maybe_async]
#[case]
async fn a_pod_without_a_catalog_is_none_and_other_failures_are_errors() {
    for status in [404, 405] {
        let mut server = server().await;
        server
            .mock("GET", "/api/v1/comfy/workflows")
            .with_status(status)
            .with_body("{\"detail\": \"Not Found\"}")
            .create();
        let client = Client::new(KEY, server.url()).unwrap();
        let catalog = client.workflows().await.unwrap();
        assert_eq!(catalog, None, "HTTP {status}");
    }
    let mut server = server().await;
    server
        .mock("GET", "/api/v1/comfy/workflows")
        .with_status(401)
        .with_body("{\"status\": \"error\", \"errors\": \"Invalid API key\"}")
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let err = client.workflows().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    server
        .mock("GET", "/api/v1/comfy/workflows")
        .with_body(ok(json!([{"name": "no id"}])))
        .create();
    let err = client.workflows().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[maybe_async]
#[case]
async fn the_simulator_lists_its_workflows_in_every_shape_that_has_a_catalog() {
    let server = MockServer::start_empty();
    server.register(txt2img());
    let client = checking(&server);
    let mut seen = Vec::new();
    for shapes in [Shapes::Union, Shapes::Current, Shapes::Legacy] {
        server.serve_shapes(shapes);
        let list = client.workflows().await.unwrap().expect("a catalog");
        assert_eq!(list.len(), 1, "{shapes:?}");
        let wf = list.into_iter().next().unwrap();
        assert_eq!(wf.name, "Text to Image");
        assert_eq!(wf.description.as_deref(), Some("makes images"));
        assert_eq!(wf.input("seed_3").unwrap().kind, ValueKind::Number);
        assert_eq!(wf.input("image_35728").unwrap().kind, ValueKind::Image);
        seen.push(wf.inputs);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    server.serve_shapes(Shapes::Spec);
    let catalog = client.workflows().await.unwrap();
    assert_eq!(catalog, None);
}

#[maybe_async]
#[case]
async fn a_misspelt_name_or_a_wrong_kind_is_refused_before_anything_is_sent() {
    let server = MockServer::start_empty();
    server.register(txt2img());
    let client = checking(&server);
    let image = fixture("cat.png");

    let err = client
        .execute_workflow(
            "txt2img",
            Inputs::new()
                .set("text_5153", "a cat")
                .set("image_35728", image.as_path()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid input `text_5153`: not an input of `Text to Image`; did you mean `text_51536`?"
    );

    let err = client
        .execute_workflow(
            "txt2img",
            Inputs::new()
                .set("text_51536", image.as_path())
                .set("image_35728", "cat.png")
                .set("seed_3", "lots"),
        )
        .await
        .unwrap_err();
    let Error::Input { field, reason, .. } = &err else {
        panic!("not an input error: {err}")
    };
    assert_eq!(field, "inputs");
    assert!(reason.starts_with("3 problems"), "{reason}");
    assert!(
        reason.contains("`text_51536` takes text, not a file"),
        "{reason}"
    );
    assert!(
        reason.contains("`image_35728` takes an image file, not text"),
        "{reason}"
    );
    assert!(
        reason.contains("`seed_3` takes a number, not `lots`"),
        "{reason}"
    );

    // The waiting call and a clone check too, with the catalog fetched once for all.
    let err = client
        .clone()
        .execute_workflow_and_wait(
            "txt2img",
            Inputs::new().set("image_3572", image.as_path()),
            &flowscale::WaitOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did you mean `image_35728`?"),
        "{err}"
    );
    assert_eq!(executes(&server), 0, "nothing may be submitted");
    assert_eq!(catalog_fetches(&server), 1);

    // Right inputs go through; a left-out optional one is no error.
    let run = client
        .execute_workflow("txt2img", Inputs::new().set("image_35728", image.as_path()))
        .await
        .unwrap();
    assert!(!run.run_id.is_empty());
    assert_eq!(executes(&server), 1);
}

#[maybe_async]
#[case]
async fn the_missing_inputs_are_reported_not_refused() {
    let server = MockServer::start_empty();
    server.register(txt2img());
    let client = checking(&server);
    let catalog = client.workflows().await.unwrap().unwrap();
    let check = Inputs::new()
        .set("image_35728", Path::new("cat.png"))
        .check(&catalog[0])
        .unwrap();
    assert_eq!(check.missing(), ["text_51536", "seed_3"]);
    assert_eq!(executes(&server), 0);
}

#[maybe_async]
#[case]
async fn a_pod_without_a_catalog_still_runs_and_is_asked_once() {
    let server = MockServer::start_empty();
    server.register(txt2img()).serve_shapes(Shapes::Spec);
    let client = checking(&server);
    let image = fixture("cat.png");
    for _ in 0..2 {
        // Unchecked: the misspelt name goes to FlowScale, which ignores it.
        let inputs = Inputs::new()
            .set("text_5153", "x")
            .set("image_35728", image.as_path());
        client.execute_workflow("txt2img", inputs).await.unwrap();
    }
    assert_eq!(executes(&server), 2);
    assert_eq!(catalog_fetches(&server), 1);
}

#[maybe_async]
#[case]
async fn a_workflow_the_catalog_does_not_list_is_sent_for_flowscale_to_judge() {
    let server = MockServer::start_empty();
    server.register(txt2img());
    let client = checking(&server);
    // Warm the cache, then deploy a workflow it does not know.
    let image = fixture("cat.png");
    client
        .execute_workflow("txt2img", Inputs::new().set("image_35728", image.as_path()))
        .await
        .unwrap();
    server.register(MockWorkflow::new("fresh").required_input("text_1"));
    let run = client
        .execute_workflow("fresh", Inputs::new().set("text_1", "x"))
        .await;
    assert!(run.is_ok(), "{run:?}");
    let err = client
        .execute_workflow("gone", Inputs::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "FlowScale's answer: {err}");
    // Fetched for the first run only: an unlisted id within seconds of a fetch is not
    // worth another.
    assert_eq!(catalog_fetches(&server), 1);
    assert_eq!(executes(&server), 3);
}
