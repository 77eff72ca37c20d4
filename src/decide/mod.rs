//! Decisions without I/O: plain state machines and rules that the loops in `src/client/`
//! drive. Nothing here opens a file or a socket, sleeps, or spawns: every input is a value
//! (a status, an error, a recorded line) and every output is a value (sleep this long,
//! give up, attach to that run), so each rule is tested without a server.

pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod clock;
#[cfg(feature = "lock")]
pub(crate) mod drift;
pub(crate) mod fetch;
pub(crate) mod file_name;
pub(crate) mod lost;
pub(crate) mod names;
pub(crate) mod paging;
pub(crate) mod plan;
pub(crate) mod record;
pub(crate) mod resume;
pub(crate) mod retry;
pub(crate) mod submission;
pub(crate) mod wait;
