//! Repository-relative paths: `/`-separated UTF-8 names, validated once at the edge.

use std::fmt;

/// Why a name or a path cannot be stored in a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A component is empty (a leading, trailing or doubled `/`).
    #[error("path '{0}' has an empty component")]
    EmptyComponent(String),
    /// A component is `.` or `..`.
    #[error("path '{0}' has a '.' or '..' component")]
    DotComponent(String),
    /// A component holds a NUL byte or a `/`.
    #[error("name '{0}' holds a NUL or '/' character")]
    ForbiddenCharacter(String),
    /// A component is `.muse` (in any case), which would let a tree overwrite a store.
    #[error("path '{0}' has a '.muse' component, which is reserved")]
    Reserved(String),
}

/// Checks that `name` can be one entry of a tree: non-empty, not `.`/`..`, no NUL or `/`,
/// and not `.muse` in any letter case.
pub fn validate_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptyComponent(name.to_string()));
    }
    if name == "." || name == ".." {
        return Err(PathError::DotComponent(name.to_string()));
    }
    if name.bytes().any(|b| b == 0 || b == b'/') {
        return Err(PathError::ForbiddenCharacter(name.to_string()));
    }
    if name.eq_ignore_ascii_case(".muse") {
        return Err(PathError::Reserved(name.to_string()));
    }
    Ok(())
}

/// A validated path inside a snapshot, such as `src/main.rs`: never absolute, never empty.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RepoPath(String);

impl RepoPath {
    /// Validates `text` as a path of one or more names joined by `/`.
    pub fn new(text: &str) -> Result<Self, PathError> {
        for component in text.split('/') {
            validate_name(component).map_err(|e| match e {
                PathError::ForbiddenCharacter(_) => PathError::ForbiddenCharacter(text.to_string()),
                PathError::EmptyComponent(_) => PathError::EmptyComponent(text.to_string()),
                PathError::DotComponent(_) => PathError::DotComponent(text.to_string()),
                PathError::Reserved(_) => PathError::Reserved(text.to_string()),
            })?;
        }
        Ok(RepoPath(text.to_string()))
    }

    /// The path as written, with `/` separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names from the root down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The parent directory (`None` at the top level) and the last name.
    pub fn split_last(&self) -> (Option<&str>, &str) {
        match self.0.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, &self.0),
        }
    }

    /// Whether `self` equals `other` or lies inside the directory `other`.
    pub fn starts_with(&self, other: &RepoPath) -> bool {
        self.0 == other.0 || (self.0.len() > other.0.len() && self.0.starts_with(&other.0) && self.0.as_bytes()[other.0.len()] == b'/')
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl AsRef<str> for RepoPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        let p = RepoPath::new("src/lib.rs").unwrap();
        assert_eq!(p.split_last(), (Some("src"), "lib.rs"));
        assert!(p.starts_with(&RepoPath::new("src").unwrap()));
        assert!(!RepoPath::new("srcx/a").unwrap().starts_with(&RepoPath::new("src").unwrap()));
    }

    #[test]
    fn rejects_escapes_and_reserved_names() {
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", ".muse/x", "x/.MUSE", "a\0b"] {
            assert!(RepoPath::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
