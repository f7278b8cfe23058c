//! Repository URLs: `http[s]://HOST[:PORT][/PREFIX]/OWNER/NAME`.

use std::fmt;

/// Why a text is not a repository URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a repository URL ({reason}); expected http[s]://HOST[:PORT]/OWNER/NAME")]
pub struct RepoUrlError {
    text: String,
    reason: &'static str,
}

/// A hosted repository's URL, split into what the client needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl {
    https: bool,
    authority: String,
    prefix: String,
    owner: String,
    name: String,
}

/// Whether `name` is a valid owner or repository name: `[A-Za-z0-9][A-Za-z0-9._-]{0,38}`.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 39
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl RepoUrl {
    /// Parses a repository URL. A trailing `/` and a `.muse` suffix on the name are dropped.
    pub fn parse(text: &str) -> Result<RepoUrl, RepoUrlError> {
        let fail = |reason| RepoUrlError { text: text.to_string(), reason };
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(fail("the scheme must be http or https"));
        };
        let (authority, path) = rest.split_once('/').ok_or_else(|| fail("no OWNER/NAME path"))?;
        if authority.is_empty() || authority.contains('@') || !authority.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(fail("bad host (user names in URLs are not supported: use a token)"));
        }
        if path.contains(['?', '#']) {
            return Err(fail("queries and fragments are not part of a repository URL"));
        }
        let mut parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if parts.len() < 2 || parts.iter().any(|part| part.is_empty()) {
            return Err(fail("no OWNER/NAME path"));
        }
        let name = parts.pop().unwrap_or_default();
        let owner = parts.pop().unwrap_or_default();
        let name = name.strip_suffix(".muse").unwrap_or(name);
        if !valid_name(owner) || !valid_name(name) {
            return Err(fail("OWNER and NAME must match [A-Za-z0-9][A-Za-z0-9._-]{0,38}"));
        }
        if parts.iter().any(|part| *part == "." || *part == "..") {
            return Err(fail("dot segments in the path"));
        }
        Ok(RepoUrl { https, authority: authority.to_string(), prefix: parts.join("/"), owner: owner.to_string(), name: name.to_string() })
    }

    /// The repository's owner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `HOST[:PORT]`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether the URL is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The hub's base URL (scheme, authority and prefix, no trailing `/`): tokens are kept per
    /// hub.
    pub fn hub(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.prefix.is_empty() {
            true => format!("{scheme}://{}", self.authority),
            false => format!("{scheme}://{}/{}", self.authority, self.prefix),
        }
    }

    /// The URL of `path` under the repository (`muse/refs` → `…/OWNER/NAME/muse/refs`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{self}/{}", path.trim_start_matches('/'))
    }
}

impl fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.hub(), self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_document_allows() {
        let url = RepoUrl::parse("http://127.0.0.1:8080/ada/parser.muse/").unwrap();
        assert_eq!((url.owner(), url.name(), url.authority()), ("ada", "parser", "127.0.0.1:8080"));
        assert_eq!(url.to_string(), "http://127.0.0.1:8080/ada/parser");
        assert_eq!(url.endpoint(crate::endpoint::REFS), "http://127.0.0.1:8080/ada/parser/muse/refs");
        let prefixed = RepoUrl::parse("https://example.com/hub/ada/parser").unwrap();
        assert_eq!(prefixed.hub(), "https://example.com/hub");
        assert!(prefixed.is_https());
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "ftp://h/a/b",
            "http://h",
            "http://h/a",
            "http://h//b",
            "http://u@h/a/b",
            "http://h/a/b?x=1",
            "http://h/-a/b",
            "http://h/a/b c",
            "http://h/../a/b",
            "http:///a/b",
            "http://h/a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ] {
            assert!(RepoUrl::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
