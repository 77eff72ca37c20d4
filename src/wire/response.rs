//! Decoding FlowScale answers: the `{status, data, meta, errors}` envelope, FastAPI's
//! `detail` errors, and non-JSON bodies from proxies. Returns payloads, not envelopes.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wire::catalog::{Catalog, Workflow};
use crate::wire::error::{Error, Result, snippet};
use crate::wire::request::Response;
use crate::wire::types::{Execution, Output, PageMeta, RunPage, RunsData};

const SNIPPET: usize = 2048;

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    status: Option<String>,
    data: Option<T>,
    #[serde(default)]
    meta: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
}

/// Decodes a success envelope's `data`, or returns the error the response stands for.
pub(crate) fn data<T: DeserializeOwned>(resp: &Response) -> Result<T> {
    envelope::<T>(resp).map(|(data, _)| data)
}

fn envelope<T: DeserializeOwned>(resp: &Response) -> Result<(T, Option<Value>)> {
    if !(200..300).contains(&resp.status) {
        return Err(api_error(resp));
    }
    let env: Envelope<T> = serde_json::from_slice(&resp.body).map_err(|e| decode_error(resp, e))?;
    if env.status.as_deref().is_some_and(|s| s != "success") {
        return Err(Error::Api {
            status: resp.status,
            message: env
                .errors
                .as_ref()
                .and_then(message_of)
                .unwrap_or_else(|| format!("status `{}`", env.status.unwrap_or_default())),
            body: snippet(&resp.body, SNIPPET),
            retry_after: None,
        });
    }
    match env.data {
        Some(data) => Ok((data, env.meta)),
        None => Err(Error::decode(
            resp.status,
            &resp.body,
            serde::de::Error::custom("the response has no `data`"),
        )),
    }
}

/// Decodes `execute_workflow`'s answer: `data` as one object (every Python SDK release's
/// servers) or as an array of exactly one (FlowScale's OpenAPI file). An answer that cannot
/// be read keeps any run id it names, since the run may have started all the same.
pub(crate) fn execution(resp: &Response) -> Result<Execution> {
    let decoded = data::<OneRun<Execution>>(resp).map(|one| one.0);
    decoded.map_err(|e| match e {
        Error::Decode {
            status,
            snippet,
            source,
            ..
        } => Error::Decode {
            status,
            snippet,
            run_id: named_run_id(&resp.body),
            source,
        },
        other => other,
    })
}

/// A run given as one object, or as an array of exactly one: decoded in place, without an
/// intermediate `Value` (the answer of every execute goes through here).
struct OneRun<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneRun<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor, value};
        struct One<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for One<T> {
            type Value = OneRun<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a run, or an array of one run")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(value::MapAccessDeserializer::new(map)).map(OneRun)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let first = seq.next_element::<T>()?;
                let mut count = usize::from(first.is_some());
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                match first {
                    Some(run) if count == 1 => Ok(OneRun(run)),
                    _ => Err(de::Error::custom(format!(
                        "`data` holds {count} runs where an execute answer has one"
                    ))),
                }
            }
        }
        d.deserialize_any(One(std::marker::PhantomData))
    }
}

/// The first `run_id` string a body names: anywhere in it when it is JSON, else after the
/// text `"run_id"`.
fn named_run_id(body: &[u8]) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(map) => map
                .get("run_id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .or_else(|| map.values().find_map(find)),
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        return find(&json);
    }
    let text = String::from_utf8_lossy(body);
    let after = text
        .split_once("\"run_id\"")?
        .1
        .trim_start()
        .strip_prefix(':')?;
    let id = after.trim_start().strip_prefix('"')?.split('"').next()?;
    let plausible = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| id.to_owned())
}

/// Decodes a runs list in either generation.
pub(crate) fn run_page(resp: &Response) -> Result<RunPage> {
    let (data, meta) = envelope::<RunsData>(resp)?;
    let meta = match meta {
        Some(Value::Null) | None => None,
        Some(m) => Some(serde_json::from_value::<PageMeta>(m).map_err(|e| decode_error(resp, e))?),
    };
    Ok(RunPage::from_parts(data, meta))
}

/// Decodes `output`'s answer: 204 is "not ready", 408 "the run timed out".
pub(crate) fn output(resp: &Response, name: &str) -> Result<Option<Output>> {
    match resp.status {
        204 => Ok(None),
        408 => Err(Error::RunTimedOut {
            output: name.to_owned(),
            run_id: None,
        }),
        _ => data(resp).map(Some),
    }
}

/// Decodes the workflow catalog in either documented shape; `Ok(None)` when the pod has
/// no catalog (404 or 405: later servers dropped the route).
pub(crate) fn workflows(resp: &Response) -> Result<Option<Vec<Workflow>>> {
    if matches!(resp.status, 404 | 405) {
        return Ok(None);
    }
    let Catalog(workflows) = data(resp)?;
    Ok(Some(workflows))
}

fn decode_error(resp: &Response, e: serde_json::Error) -> Error {
    Error::decode(resp.status, &resp.body, e)
}

/// The error an error answer stands for, when a retry policy could act on it (the
/// statuses of `failure::retryable`); `None` for the rest (successes, and answers that are
/// final: 4xx, 408 from `output`, 501...).
pub(crate) fn retryable_status(resp: &Response) -> Option<Error> {
    crate::wire::failure::retryable_status(resp.status).then(|| api_error(resp))
}

/// The error an unsuccessful response stands for, with the server's message made readable.
pub(crate) fn api_error(resp: &Response) -> Error {
    let json: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let message = json
        .as_ref()
        .and_then(|v| {
            v.get("errors")
                .and_then(message_of)
                .or_else(|| v.get("detail").and_then(detail_message))
                .or_else(|| v.get("message").and_then(message_of))
        })
        .unwrap_or_else(|| {
            let reason = reason(resp.status);
            let text = snippet(&resp.body, 200);
            match (text.is_empty(), json.is_some()) {
                (true, _) => reason.to_owned(),
                (false, true) => format!("{reason}: {text}"),
                (false, false) => format!("{reason} (non-JSON body: {})", one_line(&text)),
            }
        });
    Error::Api {
        status: resp.status,
        message,
        body: snippet(&resp.body, SNIPPET),
        retry_after: resp
            .retry_after
            .as_deref()
            .and_then(|s| parse_retry_after(s, std::time::SystemTime::now())),
    }
}

/// A message from `errors`: a string, or a list of strings.
fn message_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(items) if !items.is_empty() => Some(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

/// FastAPI's `detail`: a string, or a list of `{loc, msg, type}`, as `query.workflow_id: Field required`.
fn detail_message(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| {
                    let loc = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .map(|p| {
                                    p.as_str()
                                        .map(str::to_owned)
                                        .unwrap_or_else(|| p.to_string())
                                })
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    if loc.is_empty() {
                        msg.to_owned()
                    } else {
                        format!("{loc}: {msg}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => message_of(other),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized: check the API key",
        403 => "Forbidden: check the API key",
        404 => "Not Found",
        408 => "Request Timeout",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        300..=399 => {
            "Redirect not followed (API requests carry the key and follow none; download \
             links follow 301, 302, 303, 307 and 308)"
        }
        _ => "HTTP error",
    }
}

/// A `Retry-After` value as a delay from now: seconds, or an HTTP date (RFC 9110's three
/// forms, read by `httpdate`; a date in the past means now, one it cannot read is ignored).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_seconds_are_read() {
        let epoch_784111777 = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").ok(),
            Some(epoch_784111777)
        );
        // A year no date holds is no date, not a panic.
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 99999999999999999 08:49:37 GMT",
                SystemTime::now()
            ),
            None
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(" 12 ", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 PST", now),
            None
        );
        assert_eq!(parse_retry_after("soon", now), None);
        let later = now + Duration::from_secs(3600);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            retry_after: None,
            date: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn messages_are_readable() {
        let e = api_error(&resp(
            422,
            r#"{"detail":[{"loc":["query","workflow_id"],"msg":"Field required","type":"missing"}]}"#,
        ));
        assert_eq!(
            e.to_string(),
            "FlowScale API error 422: query.workflow_id: Field required"
        );
        let e = api_error(&resp(400, r#"{"status":"error","errors":["a","b"]}"#));
        assert_eq!(e.to_string(), "FlowScale API error 400: a; b");
        let e = api_error(&resp(502, "<html>\n<h1>502 Bad Gateway</h1></html>"));
        assert_eq!(
            e.to_string(),
            "FlowScale API error 502: Bad Gateway (non-JSON body: <html> <h1>502 Bad Gateway</h1></html>)"
        );
    }

    #[test]
    fn error_envelope_with_200_is_an_error() {
        let e = data::<Value>(&resp(200, r#"{"status":"error","errors":"nope"}"#)).unwrap_err();
        assert!(matches!(e, Error::Api { status: 200, ref message, .. } if message == "nope"));
    }

    #[test]
    fn an_execute_answer_is_one_run_as_an_object_or_an_array_of_one() {
        let run = r#"{"run_id":"r1","workflow_id":"wf","output_names":["image"]}"#;
        for body in [
            format!(r#"{{"status":"success","data":{run}}}"#),
            format!(r#"{{"status":"success","data":[{run}]}}"#),
        ] {
            let e = execution(&resp(200, &body)).unwrap();
            assert_eq!(
                (e.run_id.as_str(), e.output_names.len()),
                ("r1", 1),
                "{body}"
            );
        }
        for (body, count) in [
            (format!(r#"{{"status":"success","data":[{run},{run}]}}"#), 2),
            (r#"{"status":"success","data":[]}"#.to_owned(), 0),
        ] {
            let e = execution(&resp(200, &body)).unwrap_err();
            let cause = std::error::Error::source(&e).map(|s| s.to_string());
            let cause = cause.unwrap_or_default();
            assert!(cause.contains(&format!("holds {count} runs")), "{cause}");
            // A run the answer names is kept: it may have started all the same.
            let named = matches!(&e, Error::Decode { run_id: Some(id), .. } if id == "r1");
            assert_eq!(named, count == 2, "{e:?}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::hash_map(
                    "[a-z_]{1,8}|status|data|meta|errors|detail|runs|_id",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn decode_everything(resp: &Response) {
        let _ = data::<Value>(resp);
        let _ = data::<Vec<crate::wire::types::ContainerHealth>>(resp);
        let _ = data::<crate::wire::types::Run>(resp);
        let _ = data::<crate::wire::types::Execution>(resp);
        let _ = run_page(resp);
        let _ = output(resp, "name");
        let error = api_error(resp);
        assert!(!error.to_string().is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes with any status: a value or a typed error, never a panic.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..512)) {
            decode_everything(&Response { status, retry_after: None, date: None, body });
        }

        /// Any JSON, bare or in an envelope, with any status and Retry-After.
        #[test]
        fn any_json_decodes_or_fails_cleanly(
            status in prop_oneof![Just(200u16), Just(204), Just(408), Just(422), Just(500), 100u16..600],
            value in json(),
            wrap in any::<bool>(),
            retry_after in proptest::option::of(".{0,40}"),
        ) {
            let value = if wrap { serde_json::json!({"status": "success", "data": value}) } else { value };
            let body = serde_json::to_vec(&value).unwrap();
            decode_everything(&Response { status, retry_after, date: None, body });
        }
    }
}
