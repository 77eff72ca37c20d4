//! Client settings shared by both clients: base URL, API key, timeouts, user agent.

use std::fmt;
use std::time::Duration;

use crate::clock;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

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

/// A validated base URL: `http` or `https`, a host, no credentials, query or fragment, no
/// trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    url: String,
}

impl BaseUrl {
    /// Checks `raw` with the `http` crate's URI parser (the one both backends use), plus
    /// the rules of this API.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let bad = |why: &str| {
            Error::config(format!(
                "invalid base URL `{raw}`: {why} (expected something like https://<pod-id>.pod.flowscale.ai)"
            ))
        };
        let uri: http::Uri = raw
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&format!("it is not a valid URL ({e})")))?;
        match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http" | "https") => {}
            _ => return Err(bad("the scheme must be http:// or https://")),
        }
        let Some(authority) = uri.authority() else {
            return Err(bad("the host is missing"));
        };
        if authority.as_str().contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; pass the API key instead",
            ));
        }
        let host = authority.host();
        if host.is_empty() || host.contains('%') {
            return Err(bad("the host is missing or not a valid host name"));
        }
        // A host whose last label is a number is an IPv4 address to the URL standard
        // (which reqwest follows): `1.2.3.256` must be refused here, by both clients,
        // rather than by every call of one of them.
        let last = host
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .unwrap_or_default();
        let numeric = !last.is_empty()
            && (last.bytes().all(|b| b.is_ascii_digit())
                || last.to_ascii_lowercase().starts_with("0x"));
        if numeric
            && host
                .trim_end_matches('.')
                .parse::<std::net::Ipv4Addr>()
                .is_err()
        {
            return Err(bad(&format!("`{host}` is not a valid IPv4 address")));
        }
        let port = match authority.as_str().rsplit_once(':') {
            Some((_, port)) if !port.ends_with(']') => Some(port),
            _ => None,
        };
        if port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(bad("the port is not a number from 0 to 65535"));
        }
        if uri.query().is_some() || raw.contains('#') {
            return Err(bad("it must not contain a query or fragment"));
        }
        let url = raw.trim_end_matches('/').to_owned();
        Ok(BaseUrl { url })
    }

    /// The base URL as given, without trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised_and_checked() {
        let u = BaseUrl::parse("https://abc.pod.flowscale.ai/").unwrap();
        assert_eq!(u.as_str(), "https://abc.pod.flowscale.ai");
        let u = BaseUrl::parse("http://127.0.0.1:8080/prefix//").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8080/prefix");
        let u = BaseUrl::parse("HTTP://[::1]:9/").unwrap();
        assert_eq!(u.as_str(), "HTTP://[::1]:9");
        for bad in [
            "",
            "abc.pod.flowscale.ai",
            "ftp://host",
            "https://",
            "https:///path",
            "http://host:notaport",
            "http://host?x=1",
            "http://user:pw@host",
            "http://[::1",
            "http://%zz",
            "http://host:",
            "http://host:99999",
            "http://ho st",
            "http://host#frag",
            "http://1.2.3.256",
            "http://10.1",
            "http://host.0x1f",
        ] {
            assert!(
                matches!(BaseUrl::parse(bad), Err(Error::Config { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn api_key_never_shows() {
        let k = ApiKey::new("secret-123");
        assert_eq!(format!("{k:?} {k}"), "ApiKey(***) ***");
    }
}
