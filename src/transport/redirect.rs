//! Which redirects a download follows, and where to: one rule for both backends, so both
//! clients follow the same hops (API requests follow none: they carry the key).

use super::MAX_DOWNLOAD_REDIRECTS;
use crate::wire::error::Error;
use crate::wire::failure::TransportErrorKind;
use crate::wire::link;

/// The statuses a redirect is followed for: 301, 302, 303, 307, 308 (not 300, whose
/// `Location` is only a suggestion, nor 304, which is no redirect).
pub(crate) fn followed(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Counts the hops of one download.
#[derive(Debug, Default)]
pub(crate) struct Hops(u32);

impl Hops {
    /// Where the answer (`status`, `location`) to a request for `current` sends the next
    /// request: `Ok(None)` when it is no redirect to follow (the answer is the answer),
    /// an error past [`MAX_DOWNLOAD_REDIRECTS`] or for a target that is not http(s).
    /// `original` is the link first asked for, named in errors.
    pub fn next(
        &mut self,
        original: &str,
        current: &str,
        status: u16,
        location: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(location) = location.filter(|_| followed(status)) else {
            return Ok(None);
        };
        let fail = |kind| Error::transport(&link::redact(original), kind, None);
        if self.0 >= MAX_DOWNLOAD_REDIRECTS {
            return Err(fail(TransportErrorKind::TooManyRedirects));
        }
        self.0 += 1;
        resolve(current, location.trim())
            .map(Some)
            .ok_or_else(|| fail(TransportErrorKind::Other))
    }
}

/// `location` read against `current` (RFC 3986 reference forms: absolute, `//host/...`,
/// `/path`, and paths relative to the current one); `None` for other schemes.
fn resolve(current: &str, location: &str) -> Option<String> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_owned());
    }
    if location.contains(':')
        && !location.starts_with('/')
        && location.find(':') < location.find('/')
    {
        // Another scheme (`file:`, `ftp:`): never.
        return None;
    }
    let (scheme, rest) = current.split_once("://")?;
    if let Some(authority_and_path) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{authority_and_path}"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let origin = format!("{scheme}://{authority}");
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    if location.starts_with('?') || location.is_empty() {
        return Some(format!("{origin}{path}{location}"));
    }
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{origin}{dir}{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_like_browsers_resolve_them() {
        let base = "https://a.example/b/c.png?sig=1";
        assert_eq!(
            resolve(base, "https://x.example/y").as_deref(),
            Some("https://x.example/y")
        );
        assert_eq!(
            resolve(base, "//x.example/y").as_deref(),
            Some("https://x.example/y")
        );
        assert_eq!(
            resolve(base, "/d.png").as_deref(),
            Some("https://a.example/d.png")
        );
        assert_eq!(
            resolve(base, "d.png?s=2").as_deref(),
            Some("https://a.example/b/d.png?s=2")
        );
        assert_eq!(
            resolve(base, "?s=2").as_deref(),
            Some("https://a.example/b/c.png?s=2")
        );
        assert_eq!(resolve("http://a:8/", "x").as_deref(), Some("http://a:8/x"));
        assert_eq!(resolve(base, "file:///etc/passwd"), None);
        assert_eq!(resolve(base, "ftp://x/y"), None);
    }

    #[test]
    fn only_the_five_redirects_are_followed_and_not_forever() {
        let mut hops = Hops::default();
        assert_eq!(hops.next("u", "http://a/x", 300, Some("/y")).unwrap(), None);
        assert_eq!(hops.next("u", "http://a/x", 304, Some("/y")).unwrap(), None);
        assert_eq!(hops.next("u", "http://a/x", 302, None).unwrap(), None);
        for _ in 0..MAX_DOWNLOAD_REDIRECTS {
            assert!(
                hops.next("u", "http://a/x", 307, Some("/y"))
                    .unwrap()
                    .is_some()
            );
        }
        let err = hops.next("u", "http://a/x", 307, Some("/y")).unwrap_err();
        assert!(err.to_string().contains("too many redirects"), "{err}");
    }
}
