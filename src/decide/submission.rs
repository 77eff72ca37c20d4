//! The rules that move a submission from one state to the next (the states are
//! `wire::submission::SubmissionState`): what an error from sending it says, what a lost
//! answer's look among the runs found, and what a sender that ended without a word leaves.
//! The client sets the state by these rules (`client/api.rs`, `client/nonblocking/submit.rs`);
//! the batch (`client/batch_runner.rs`), `BuildCache` and the tool read it. No I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::decide::lost::LostMatch;
use crate::wire::error::Error;
use crate::wire::failure::TransportErrorKind as K;
use crate::wire::submission::SubmissionState;

/// A time in milliseconds since the epoch, as the states hold it (a time past what the
/// clock can hold is its year 9999: a recorded time never panics).
pub(crate) fn at(ms: u64) -> SystemTime {
    const LAST: u64 = 253_402_300_799_999;
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms.min(LAST)))
        .unwrap_or(UNIX_EPOCH)
}

/// Milliseconds since the epoch of a state's time (0 before 1970).
pub(crate) fn ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What an error from sending a submission (sent at `sent_ms`) says of it, given whether
/// its body went out whole. Only an error that proves no run was started ends in a state
/// that says so; a lost answer is `Lost`, and its run is looked for next.
pub(crate) fn after_error(e: &Error, whole: bool, stopped: bool, sent_ms: u64) -> SubmissionState {
    // An answer that cannot be read but names its run started that run all the same.
    if let Some(run_id) = e.run_id() {
        return SubmissionState::Started {
            run_id: run_id.to_owned(),
        };
    }
    let not_submitted = |reason: &str| SubmissionState::NotSubmitted {
        reason: reason.to_owned(),
    };
    if stopped && !whole {
        return not_submitted("the upload was stopped before its end");
    }
    match e {
        // Raised before the request (a missing file, a refused input, a bad setting), or
        // while the body was still going out (stopped, a reader that failed), which no
        // server takes as a submission.
        Error::Input { .. } | Error::Io { .. } | Error::Config { .. } | Error::Busy { .. } => {
            not_submitted("it failed before it went out whole")
        }
        Error::Api {
            status: 401 | 403, ..
        } => not_submitted("the key was refused"),
        Error::Api { status: 429, .. } => not_submitted("FlowScale asked to slow down (429)"),
        Error::Api { status, .. } if *status < 500 && *status != 408 => {
            SubmissionState::Refused { status: *status }
        }
        Error::Transport {
            kind: K::ConnectionRefused | K::Dns | K::Connect | K::ConnectTimeout | K::Tls { .. },
            ..
        } => not_submitted("no connection to FlowScale"),
        _ if !whole => not_submitted("the body did not go out whole"),
        // A timeout, a cut connection, a 5xx, an answer that names no run: a run may exist.
        _ => SubmissionState::Lost {
            sent_at: at(sent_ms),
        },
    }
}

/// The state after a lost answer's look among the runs FlowScale lists (the request sent
/// at `sent_ms`).
pub(crate) fn after_lookup(found: LostMatch, sent_ms: u64) -> SubmissionState {
    let sent_at = at(sent_ms);
    match found {
        LostMatch::Found { run_id, why } => SubmissionState::Found {
            run_id,
            sent_at,
            why,
        },
        LostMatch::Doubt { reason, candidates } => SubmissionState::Doubt {
            sent_at,
            reason,
            candidates,
        },
        LostMatch::NotListed => SubmissionState::Doubt {
            sent_at,
            reason: "no run FlowScale lists has its workflow and exactly its inputs yet \
                     (FlowScale may list it late)"
                .to_owned(),
            candidates: Vec::new(),
        },
    }
}

/// The state of a submission whose sender ended without an answer (a task that died, a
/// runtime shutting down): what the flags prove, else a doubt. Never "not accepted" for a
/// body that went out whole.
#[cfg_attr(not(feature = "async"), allow(dead_code))]
pub(crate) fn sender_ended(last: SubmissionState) -> SubmissionState {
    match last {
        SubmissionState::Pending | SubmissionState::Sending { .. } => {
            SubmissionState::NotSubmitted {
                reason: "its sender ended before the body went out whole".to_owned(),
            }
        }
        SubmissionState::SentWhole { sent_at } | SubmissionState::Lost { sent_at } => {
            SubmissionState::Doubt {
                sent_at,
                reason: "the task sending it ended before its answer came (the runtime shutting \
                         down?)"
                    .to_owned(),
                candidates: Vec::new(),
            }
        }
        settled => settled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::submission::Paid;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            message: String::new(),
            body: String::new(),
            retry_after: None,
        }
    }

    fn transport(kind: K) -> Error {
        Error::transport("http://pod/api/v1/runs", kind, None)
    }

    #[test]
    fn only_errors_that_prove_no_run_say_nothing_was_submitted() {
        let cases = [
            (Error::input("image_1", "missing"), Paid::No),
            (api(401), Paid::No),
            (api(403), Paid::No),
            (api(429), Paid::No),
            (api(404), Paid::No),
            (api(422), Paid::No),
            (transport(K::ConnectionRefused), Paid::No),
            (transport(K::ConnectTimeout), Paid::No),
            (api(500), Paid::Maybe),
            (api(502), Paid::Maybe),
            (api(408), Paid::Maybe),
            (transport(K::Timeout), Paid::Maybe),
            (transport(K::ConnectionClosed), Paid::Maybe),
        ];
        for (e, paid) in cases {
            let state = after_error(&e, true, false, 100);
            assert_eq!(state.paid(), paid, "{e}: {state:?}");
        }
        // A 404 or 422 is FlowScale's refusal: said as such.
        assert_eq!(
            after_error(&api(404), true, false, 0),
            SubmissionState::Refused { status: 404 }
        );
    }

    #[test]
    fn a_body_that_never_went_out_whole_started_no_run() {
        for e in [
            api(500),
            transport(K::Timeout),
            transport(K::ConnectionClosed),
        ] {
            let state = after_error(&e, false, false, 100);
            assert!(
                matches!(state, SubmissionState::NotSubmitted { .. }),
                "{e}: {state:?}"
            );
        }
    }

    #[test]
    fn a_stop_counts_only_before_the_body_went_out_whole() {
        let e = transport(K::Timeout);
        assert_eq!(
            after_error(&e, false, true, 1),
            SubmissionState::NotSubmitted {
                reason: "the upload was stopped before its end".to_owned()
            }
        );
        assert_eq!(after_error(&e, true, true, 1).paid(), Paid::Maybe);
    }

    #[test]
    fn a_lost_answer_is_lost_from_its_send_time() {
        assert_eq!(
            after_error(&transport(K::Timeout), true, false, 100),
            SubmissionState::Lost { sent_at: at(100) }
        );
    }

    #[test]
    fn the_look_ends_found_or_in_doubt() {
        let found = after_lookup(
            LostMatch::Found {
                run_id: "r".to_owned(),
                why: "w".to_owned(),
            },
            5,
        );
        assert_eq!(found.run_id(), Some("r"));
        assert_eq!(found.paid(), Paid::Yes);
        let doubt = after_lookup(
            LostMatch::Doubt {
                reason: "x".to_owned(),
                candidates: vec!["a".to_owned()],
            },
            5,
        );
        assert_eq!(doubt.paid(), Paid::Maybe);
        assert!(doubt.to_string().contains("it may be a"), "{doubt}");
        let not_listed = after_lookup(LostMatch::NotListed, 5);
        assert_eq!(not_listed.paid(), Paid::Maybe);
        assert_eq!(not_listed.sent_at(), Some(at(5)));
    }

    #[test]
    fn a_sender_that_ended_leaves_what_the_flags_prove() {
        assert_eq!(sender_ended(SubmissionState::Pending).paid(), Paid::No);
        assert_eq!(
            sender_ended(SubmissionState::Sending { sent_at: at(1) }).paid(),
            Paid::No
        );
        let whole = sender_ended(SubmissionState::SentWhole { sent_at: at(1) });
        assert!(matches!(whole, SubmissionState::Doubt { .. }), "{whole:?}");
        let started = SubmissionState::Started {
            run_id: "r".to_owned(),
        };
        assert_eq!(sender_ended(started.clone()), started);
    }

    #[test]
    fn an_unreadable_answer_that_names_its_run_started_it() {
        let e = Error::Decode {
            status: 200,
            snippet: String::new(),
            run_id: Some("r9".to_owned()),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        };
        assert_eq!(after_error(&e, true, false, 0).run_id(), Some("r9"));
    }
}
