//! What a request is, independent of the HTTP backend: method, URL, optional form body.
//! Every endpoint's URL is built here, so both clients send the same requests.

use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::wire::base_url::BaseUrl;
use crate::wire::error::{Error, Result};
use crate::wire::form::{EncodedForm, urlencoded};
use crate::wire::query::RunsQuery;

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// A request to the FlowScale API (the API key is added by the transport).
pub(crate) struct Request {
    pub method: Method,
    pub url: String,
    pub body: Option<EncodedForm>,
    /// A bound on the whole request, on top of the client's timeouts (a wait's time left).
    pub timeout: Option<Duration>,
}

impl Request {
    /// Whether sending this request twice is harmless: GETs and body-less POSTs (cancel)
    /// are; a POST with a form (starting a run) is not.
    pub fn idempotence(&self) -> Idempotence {
        match (self.method, &self.body) {
            (_, Some(_)) => Idempotence::Unsafe,
            _ => Idempotence::Safe,
        }
    }

    /// A copy for another attempt; `None` for a request with a body (never resent).
    pub fn try_clone(&self) -> Option<Request> {
        match self.body {
            Some(_) => None,
            None => Some(Request {
                method: self.method,
                url: self.url.clone(),
                body: None,
                timeout: self.timeout,
            }),
        }
    }

    /// The same request, bounded as a whole by `limit` when there is one.
    pub fn within(mut self, limit: Option<Duration>) -> Self {
        self.timeout = limit;
        self
    }
}

/// A response, read whole (API answers are small JSON documents).
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The `Date` header: the server's clock, to compare run times with ours.
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// Characters escaped in one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn url(base: &BaseUrl, path: &str, query: &[(&str, String)]) -> String {
    let mut url = format!("{}{path}", base.as_str());
    if !query.is_empty() {
        url.push('?');
        url.push_str(&urlencoded(query.iter().map(|(k, v)| (*k, v.as_str()))));
    }
    url
}

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Rejects an empty or blank id before anything is sent.
pub(crate) fn require(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::input(field, "is empty"))
    } else {
        Ok(())
    }
}

fn get(url: String) -> Request {
    Request {
        method: Method::Get,
        url,
        body: None,
        timeout: None,
    }
}

/// `GET /api/v1/comfy/health`
pub(crate) fn health(base: &BaseUrl) -> Request {
    get(url(base, "/api/v1/comfy/health", &[]))
}

/// `GET /api/v1/comfy/workflows`
pub(crate) fn workflows(base: &BaseUrl) -> Request {
    get(url(base, "/api/v1/comfy/workflows", &[]))
}

/// `GET /api/v1/comfy/queue`
pub(crate) fn queue(base: &BaseUrl) -> Request {
    get(url(base, "/api/v1/comfy/queue", &[]))
}

/// `POST /api/v1/runs?workflow_id=..[&group_id=..]` with the form.
pub(crate) fn execute(
    base: &BaseUrl,
    workflow_id: &str,
    group_id: Option<&str>,
    form: EncodedForm,
) -> Request {
    let mut query = vec![("workflow_id", workflow_id.to_owned())];
    if let Some(g) = group_id {
        query.push(("group_id", g.to_owned()));
    }
    Request {
        method: Method::Post,
        url: url(base, "/api/v1/runs", &query),
        body: Some(form),
        timeout: None,
    }
}

/// Checks `execute_workflow`'s arguments.
pub(crate) fn check_execute(workflow_id: &str, group_id: Option<&str>) -> Result<()> {
    require("workflow_id", workflow_id)?;
    if let Some(g) = group_id {
        require("group_id", g)?;
    }
    Ok(())
}

/// `GET /api/v1/runs/output?filename=..`
pub(crate) fn output(base: &BaseUrl, name: &str) -> Request {
    get(url(
        base,
        "/api/v1/runs/output",
        &[("filename", name.to_owned())],
    ))
}

/// `GET /api/v1/runs/{run_id}`
pub(crate) fn run(base: &BaseUrl, run_id: &str) -> Request {
    get(url(base, &format!("/api/v1/runs/{}", segment(run_id)), &[]))
}

/// `GET /api/v1/runs?sort_by=..&sort_order=..&page=..&page_size=..[&group_id=..]`
pub(crate) fn runs(base: &BaseUrl, query: &RunsQuery) -> Request {
    get(url(base, "/api/v1/runs", &query.pairs()))
}

/// `POST /api/v1/runs/{run_id}/cancel`
pub(crate) fn cancel(base: &BaseUrl, run_id: &str) -> Request {
    Request {
        method: Method::Post,
        url: url(
            base,
            &format!("/api/v1/runs/{}/cancel", segment(run_id)),
            &[],
        ),
        body: None,
        timeout: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_query_values_are_escaped() {
        let base = BaseUrl::parse("http://h/").unwrap();
        assert_eq!(run(&base, "a/b?c").url, "http://h/api/v1/runs/a%2Fb%3Fc");
        assert_eq!(
            output(&base, "x&y#z+1").url,
            "http://h/api/v1/runs/output?filename=x%26y%23z%2B1"
        );
    }
}

/// Whether a request may be sent twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// GETs and cancel: repeating them changes nothing.
    Safe,
    /// Starting a run: never repeated.
    Unsafe,
}
