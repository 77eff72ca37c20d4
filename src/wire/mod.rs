//! The HTTP contract with FlowScale, without I/O: what a request is (its query, its form
//! and how the form is encoded, the progress of its upload), how answers are decoded into
//! types, and how a failure is named and classified (the one error type; retryable or
//! not). The bottom layer: it imports nothing else of the crate. The transports put it on
//! a socket. (`inputs.rs`, the inputs of a run, is declared by `lib.rs`, so that its
//! public path is `flowscale::inputs`.)

pub(crate) mod base_url;
pub(crate) mod catalog;
pub(crate) mod error;
pub(crate) mod failure;
pub(crate) mod form;
pub(crate) mod link;
#[cfg(feature = "lock")]
pub(crate) mod lock;
pub(crate) mod media;
pub(crate) mod progress;
pub(crate) mod query;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod submission;
pub(crate) mod typed_inputs;
pub(crate) mod types;
pub(crate) mod upload;
