//! Client settings shared by both clients: base URL, API key, timeouts, user agent.

use std::fmt;
use std::time::Duration;

use crate::decide::clock;

use crate::decide::retry::RetryPolicy;
use crate::wire::base_url::BaseUrl;
use crate::wire::error::{Error, Result};

/// Environment variable holding the API key, read by `from_env`.
pub const ENV_API_KEY: &str = "FLOWSCALE_API_KEY";
/// Environment variable holding the base URL, read by `from_env`.
pub const ENV_API_URL: &str = "FLOWSCALE_API_URL";

/// The most requests in flight a client allows (`max_concurrent_requests` saturates
/// here): far more than any open-file limit.
pub const MAX_CONCURRENT_REQUESTS: usize = 65_536;

/// Default time allowed to open a connection (see `ClientBuilder::connect_timeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed between finishing a request and receiving the response headers,
/// and between two reads of a response body.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// An API key. Its `Debug` and `Display` never show the key itself.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    /// Wraps a key. Leading and trailing white space is removed.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        ApiKey(key.trim().to_owned())
    }

    /// The key itself, for building the `X-API-KEY` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything a client needs besides its HTTP backend. Built by the client builders.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub base_url: BaseUrl,
    pub api_key: ApiKey,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub user_agent: String,
    pub retry: RetryPolicy,
    pub max_concurrent_requests: usize,
    /// Whether submissions are checked against the workflow catalog first.
    pub check_inputs: bool,
    /// Told of every run whose submission's caller went away (`AsyncClient`).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub on_orphaned_run: Option<OrphanHook>,
}

/// What `AsyncClientBuilder::on_orphaned_run` was given.
#[derive(Clone)]
#[cfg_attr(not(feature = "async"), allow(dead_code))]
pub(crate) struct OrphanHook(
    pub std::sync::Arc<dyn Fn(&crate::wire::submission::OrphanedRun) + Send + Sync>,
);

impl fmt::Debug for OrphanHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrphanHook")
    }
}

/// Default bound on the requests one client has in flight at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 64;

/// The default `User-Agent` header.
pub(crate) fn default_user_agent() -> String {
    format!("flowscale-rust/{}", env!("CARGO_PKG_VERSION"))
}

/// Settings as collected by a builder, before validation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    pub base_url: Option<String>,
    pub api_key: Option<ApiKey>,
    pub connect_timeout: Option<Duration>,
    pub response_timeout: Option<Duration>,
    pub user_agent: Option<String>,
    pub retry: Option<RetryPolicy>,
    pub max_concurrent_requests: Option<usize>,
    pub check_inputs: bool,
    pub on_orphaned_run: Option<OrphanHook>,
}

impl Draft {
    /// Validates the draft into settings.
    pub fn finish(self) -> Result<Settings> {
        let api_key = self.api_key.ok_or_else(|| {
            Error::config("no API key given: call .api_key(..) on the builder, or use from_env()")
        })?;
        if api_key.expose().is_empty() {
            return Err(Error::config("the API key is empty"));
        }
        if !api_key.expose().bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(Error::config(
                "the API key contains spaces, control or non-ASCII characters and cannot be \
                 sent as a header; check that it was copied whole",
            ));
        }
        let base_url = BaseUrl::parse(self.base_url.as_deref().ok_or_else(|| {
            Error::config("no base URL given: call .base_url(..) on the builder, or use from_env()")
        })?)?;
        Ok(Settings {
            base_url,
            api_key,
            // Longer than decades means "no limit" and is held to that, not overflowed.
            connect_timeout: clock::cap(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)),
            response_timeout: clock::cap(self.response_timeout.unwrap_or(DEFAULT_RESPONSE_TIMEOUT)),
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
            retry: self.retry.unwrap_or_default(),
            max_concurrent_requests: self
                .max_concurrent_requests
                .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS)
                .clamp(1, MAX_CONCURRENT_REQUESTS),
            check_inputs: self.check_inputs,
            on_orphaned_run: self.on_orphaned_run,
        })
    }

    /// A draft filled from `FLOWSCALE_API_KEY` and `FLOWSCALE_API_URL`.
    pub fn from_env() -> Result<Self> {
        Ok(Draft {
            api_key: Some(ApiKey::new(env_var(ENV_API_KEY)?)),
            base_url: Some(env_var(ENV_API_URL)?),
            ..Draft::default()
        })
    }
}

fn env_var(name: &str) -> Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => Err(Error::config(format!(
            "environment variable {name} is set but empty"
        ))),
        Err(std::env::VarError::NotPresent) => Err(Error::config(format!(
            "environment variable {name} is not set"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::config(format!(
            "environment variable {name} is not valid UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_never_shows() {
        let k = ApiKey::new("secret-123");
        assert_eq!(format!("{k:?} {k}"), "ApiKey(***) ***");
    }
}
