//! A local, stateful FlowScale simulator (feature `mock`), for offline runs and for testing
//! code that uses this SDK.
//!
//! [`MockServer`] serves the whole API contract on a free loopback port from a background
//! thread: register workflows, start runs that move `queued -> running -> completed` on the
//! clock, list, cancel, fetch outputs and download them (the simulator serves the files
//! itself). It can be told to misbehave ([`Fault`]), and records every request it gets.
//!
//! ```
//! use std::time::Duration;
//! use flowscale::mock::{MockServer, MockWorkflow};
//! use flowscale::{Inputs, WaitOptions};
//!
//! let server = MockServer::start();
//! server.register(
//!     MockWorkflow::new("txt2img")
//!         .required_input("text_1")
//!         .outputs(["image"])
//!         .duration(Duration::from_millis(50)),
//! );
//! # #[cfg(feature = "blocking")] {
//! let client = server.client();
//! let options = WaitOptions::new().poll_interval(Duration::from_millis(10));
//! let result = client
//!     .execute_workflow_and_wait("txt2img", Inputs::new().set("text_1", "a cat"), &options)
//!     .unwrap();
//! assert_eq!(result.outputs.len(), 1);
//! assert_eq!(server.requests()[0].fields, [("text_1".to_string(), "a cat".to_string())]);
//! # }
//! ```

mod answer;
mod control;
mod routes;
mod server;
mod state;
mod vocabulary;

pub use server::MockServer;
pub use vocabulary::{
    DEFAULT_API_KEY, Fault, MockWorkflow, RecordedFile, RecordedRequest, Route, Shapes,
    StoredRunInfo, demo_workflows,
};
