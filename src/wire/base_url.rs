//! Where requests go: the base URL of a pod, checked once at construction by the rules
//! both HTTP backends parse it by, so a URL either client takes works for both.

use crate::wire::error::{Error, Result};

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
}
