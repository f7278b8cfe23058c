//! User and repository names: `[A-Za-z0-9][A-Za-z0-9._-]{0,38}`, unique case-insensitively;
//! user names that a top-level route of the hub's web site takes (or will take) are reserved.

use crate::HubError;

/// The longest user or repository name, in characters.
pub const MAX_NAME_LEN: usize = 39;

/// The user names no account may take, because `/{name}` is (or is planned to be) one of the
/// hub's own pages rather than a user's (`docs/hub.md` §Reserved names); compared
/// case-insensitively. Sorted, so a test can check it stays so.
pub const RESERVED_NAMES: &[&str] = &[
    "-",
    "about",
    "admin",
    "api",
    "assets",
    "dashboard",
    "docs",
    "explore",
    "favicon.ico",
    "health",
    "help",
    "login",
    "logout",
    "mcp",
    "new",
    "notifications",
    "org",
    "organizations",
    "orgs",
    "robots.txt",
    "search",
    "settings",
    "signin",
    "signout",
    "signup",
    "sitemap.xml",
    "static",
    "status",
    "user",
    "users",
];

/// Checks a user name: the naming rules, then [`RESERVED_NAMES`] (`reserved_name`).
pub fn validate_user_name(name: &str) -> Result<(), HubError> {
    validate(name, "user")?;
    if is_reserved(name) {
        return Err(HubError::ReservedName { name: name.to_string() });
    }
    Ok(())
}

/// Whether `name` is one of [`RESERVED_NAMES`] (case-insensitively).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.binary_search(&key(name).as_str()).is_ok()
}

/// Checks a repository name: a user name's rules, and no `.muse` or `.git` ending (so that
/// `OWNER/NAME.muse` in a URL can always mean the repository `NAME`).
pub fn validate_repo_name(name: &str) -> Result<(), HubError> {
    validate(name, "repository")?;
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".muse") || lower.ends_with(".git") {
        return Err(invalid(name, "repository", "it ends with .muse or .git"));
    }
    Ok(())
}

/// The key a name is unique under: its ASCII lowercase (names are ASCII).
pub(crate) fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn validate(name: &str, what: &'static str) -> Result<(), HubError> {
    let Some(first) = name.bytes().next() else { return Err(invalid(name, what, "it is empty")) };
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(name, what, "it is longer than 39 characters"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(invalid(name, what, "it must start with a letter or digit"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(invalid(name, what, "only letters, digits, '.', '_' and '-' are allowed"));
    }
    Ok(())
}

fn invalid(name: &str, what: &'static str, reason: &str) -> HubError {
    HubError::InvalidName { name: name.to_string(), what, reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        for ok in ["a", "A9", "muse", "my.repo_x-1", &"x".repeat(39)] {
            validate_repo_name(ok).unwrap();
            validate_user_name(ok).unwrap();
        }
        for bad in ["", "-a", ".a", "_a", "a/b", "a b", "é", &"x".repeat(40), "a\0"] {
            assert_eq!(validate_user_name(bad).unwrap_err().code(), "invalid_name", "{bad:?}");
        }
        for bad in ["x.muse", "x.git", "X.GIT", "x.Muse"] {
            validate_user_name(bad).unwrap();
            assert_eq!(validate_repo_name(bad).unwrap_err().code(), "invalid_name", "{bad:?}");
        }
        assert_eq!(key("MuSe"), "muse");
    }

    #[test]
    fn reserved_names_are_refused_in_any_case() {
        assert!(RESERVED_NAMES.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        for name in ["login", "LOGIN", "Static", "api", "mcp", "new", "settings", "explore", "favicon.ico"] {
            assert_eq!(validate_user_name(name).unwrap_err().code(), "reserved_name", "{name}");
        }
        // Repositories live under their owner: their names are not routes.
        validate_repo_name("settings").unwrap();
        // `-` breaks the naming rules already; it is listed for the documentation.
        assert_eq!(validate_user_name("-").unwrap_err().code(), "invalid_name");
        validate_user_name("logins").unwrap();
    }
}
