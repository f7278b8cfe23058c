//! The allowed-signers file: which key may sign for which identity, for which models, when, and
//! which keys are revoked (`docs/formats.md` §4.2; git's `gpg.ssh.allowedSignersFile` idea).

use std::fmt;

use muse_core::Commit;

use crate::error::SignError;
use crate::key::{PublicKey, KEY_TYPE};

/// The prefix of an agent identity: `agent:ID` may sign the commits whose `agent-id` is `ID`.
pub const AGENT_PREFIX: &str = "agent:";

/// Who a commit says made it: its agent when it names one, else its author (by e-mail address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// An agent, by its `agent-id`.
    Agent(String),
    /// A person, by the e-mail address in the author (`Ada <ada@example.com>` → `ada@example.com`),
    /// or the whole author when it has no `<…>`.
    Person(String),
}

impl Identity {
    /// The identity a commit claims (see [`Identity`]).
    pub fn of(commit: &Commit) -> Identity {
        if !commit.agent_id.is_empty() {
            return Identity::Agent(commit.agent_id.clone());
        }
        let author = commit.author.trim();
        let email = author.rfind('<').and_then(|start| author[start + 1..].strip_suffix('>'));
        Identity::Person(email.unwrap_or(author).to_string())
    }

    /// Whether the principal `principal` (a word of an allowed-signers line) names this identity.
    /// E-mail addresses compare ignoring ASCII case; agent ids exactly.
    pub fn is_named_by(&self, principal: &str) -> bool {
        match (self, principal.strip_prefix(AGENT_PREFIX)) {
            (Identity::Agent(id), Some(named)) => id == named,
            (Identity::Person(email), None) => email.eq_ignore_ascii_case(principal),
            _ => false,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Agent(id) => write!(f, "{AGENT_PREFIX}{id}"),
            Identity::Person(email) => f.write_str(email),
        }
    }
}

/// A validity bound: `YYYYMMDD[HHMM[SS]]` in UTC (an optional trailing `Z` is accepted), kept as
/// written, with its instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    text: String,
    unix: i64,
}

impl Bound {
    /// Parses a bound.
    pub fn parse(text: &str) -> Result<Bound, String> {
        let digits = text.strip_suffix('Z').unwrap_or(text);
        if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{text:?} is not a date YYYYMMDD[HHMM[SS]]"));
        }
        let part = |r: std::ops::Range<usize>| digits.get(r).unwrap_or("00");
        let rfc = format!("{}-{}-{}T{}:{}:{}Z", part(0..4), part(4..6), part(6..8), part(8..10), part(10..12), part(12..14));
        let (unix, _) = muse_core::rfc3339_to_unix(&rfc).ok_or_else(|| format!("{text:?} is not a valid date"))?;
        Ok(Bound { text: text.to_string(), unix })
    }

    /// The bound's instant, seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.unix
    }

    /// The bound as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// One key's entry: the identities it may sign for and the conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSigner {
    /// E-mail addresses of people and `agent:ID`s of agents, at least one.
    pub principals: Vec<String>,
    /// The model ids the key may sign agent commits for; empty: any.
    pub models: Vec<String>,
    /// Signatures count only on commits made at or after this instant (their `committed-at`).
    pub valid_after: Option<Bound>,
    /// Signatures count only on commits made before this instant.
    pub valid_before: Option<Bound>,
    /// The key is revoked: every signature it made is reported `revoked`, whenever made.
    pub revoked: bool,
    /// The key.
    pub key: PublicKey,
    /// Free text after the key (e.g. where it comes from).
    pub comment: String,
}

impl AllowedSigner {
    /// An entry for `key` and `principals` with no condition; checks the principals.
    pub fn new(principals: Vec<String>, key: PublicKey) -> Result<AllowedSigner, SignError> {
        for p in &principals {
            check_word(p, "identity")?;
            if p.strip_prefix(AGENT_PREFIX).is_some_and(str::is_empty) {
                return Err(SignError::Invalid("an agent identity is agent:ID, with a non-empty ID".into()));
            }
        }
        if principals.is_empty() {
            return Err(SignError::Invalid("an allowed signer needs at least one identity".into()));
        }
        Ok(AllowedSigner { principals, models: Vec::new(), valid_after: None, valid_before: None, revoked: false, key, comment: String::new() })
    }

    /// Sets the model restriction; checks the model ids.
    pub fn with_models(mut self, models: Vec<String>) -> Result<AllowedSigner, SignError> {
        for m in &models {
            check_word(m, "model id")?;
        }
        self.models = models;
        Ok(self)
    }

    /// Whether the entry lets its key sign for `identity` with `model_id`.
    pub fn permits(&self, identity: &Identity, model_id: &str) -> bool {
        let models_ok = self.models.is_empty() || matches!(identity, Identity::Person(_)) || self.models.iter().any(|m| m == model_id);
        models_ok && self.principals.iter().any(|p| identity.is_named_by(p))
    }

    /// Whether `unix` (a commit's time) is inside the validity window.
    pub fn valid_at(&self, unix: i64) -> bool {
        self.valid_after.as_ref().is_none_or(|b| unix >= b.unix) && self.valid_before.as_ref().is_none_or(|b| unix < b.unix)
    }

    fn render(&self) -> String {
        let mut options = Vec::new();
        if !self.models.is_empty() {
            options.push(format!("models=\"{}\"", self.models.join(",")));
        }
        if let Some(b) = &self.valid_after {
            options.push(format!("valid-after=\"{}\"", b.text));
        }
        if let Some(b) = &self.valid_before {
            options.push(format!("valid-before=\"{}\"", b.text));
        }
        if self.revoked {
            options.push("revoked".into());
        }
        let mut line = self.principals.join(",");
        if !options.is_empty() {
            line.push(' ');
            line.push_str(&options.join(","));
        }
        line.push(' ');
        line.push_str(&self.key.to_openssh());
        if !self.comment.is_empty() {
            line.push(' ');
            line.push_str(&self.comment);
        }
        line
    }
}

/// Refuses an identity or model id that the line format cannot hold.
fn check_word(word: &str, what: &str) -> Result<(), SignError> {
    if word.is_empty() || word.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '"' || c == '#') {
        return Err(SignError::Invalid(format!("{what} {word:?} is empty or holds a space, comma, quote or #")));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A comment or blank line, kept as written.
    Other(String),
    Entry(AllowedSigner),
}

/// A parsed allowed-signers file. Comments, blank lines and the order of lines are kept when it
/// is written back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSigners {
    lines: Vec<Line>,
}

impl AllowedSigners {
    /// Parses the file's text; any malformed line is an error naming it.
    pub fn parse(text: &str) -> Result<AllowedSigners, SignError> {
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            let entry = parse_line(trimmed).map_err(|reason| SignError::BadAllowedSigners { line: n + 1, reason })?;
            lines.push(Line::Entry(entry));
        }
        Ok(AllowedSigners { lines })
    }

    /// The file's text: kept lines as they were, entries in canonical form, each ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Other(text) => out.push_str(text),
                Line::Entry(entry) => out.push_str(&entry.render()),
            }
            out.push('\n');
        }
        out
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &AllowedSigner> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry(e) => Some(e),
            Line::Other(_) => None,
        })
    }

    /// Appends an entry.
    pub fn add(&mut self, entry: AllowedSigner) {
        self.lines.push(Line::Entry(entry));
    }

    /// Marks every entry of the key with id `key_id` revoked; returns how many were (0: the key
    /// is not listed).
    pub fn revoke(&mut self, key_id: &str) -> usize {
        let mut count = 0;
        for line in &mut self.lines {
            if let Line::Entry(e) = line {
                if e.key.key_id() == key_id {
                    e.revoked = true;
                    count += 1;
                }
            }
        }
        count
    }
}

/// `PRINCIPALS [OPTIONS] ssh-ed25519 BASE64 [COMMENT]`.
fn parse_line(line: &str) -> Result<AllowedSigner, String> {
    let (principals, rest) = split_word(line);
    let (options, rest) = if rest.starts_with(KEY_TYPE) || rest.starts_with("ssh-") || rest.starts_with("ecdsa-") { ("", rest) } else { split_options(rest)? };
    let (key_type, rest) = split_word(rest);
    let (key_b64, comment) = split_word(rest);
    if key_type.is_empty() || key_b64.is_empty() {
        return Err("expected IDENTITIES [OPTIONS] ssh-ed25519 KEY [COMMENT]".into());
    }
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}")).map_err(|e| e.to_string())?;
    let mut entry = AllowedSigner::new(principals.split(',').map(str::to_string).collect(), key).map_err(|e| e.to_string())?;
    entry.comment = comment.to_string();
    for option in split_list(options)? {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => {
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(|| format!("option {name}'s value is not quoted"))?;
                (name, Some(value))
            }
            None => (option, None),
        };
        match (name, value) {
            ("models", Some(v)) => entry = entry.with_models(v.split(',').map(str::to_string).collect()).map_err(|e| e.to_string())?,
            ("valid-after", Some(v)) => entry.valid_after = Some(Bound::parse(v)?),
            ("valid-before", Some(v)) => entry.valid_before = Some(Bound::parse(v)?),
            ("revoked", None) => entry.revoked = true,
            _ => return Err(format!("unknown option {option:?} (known: models=\"…\", valid-after=\"…\", valid-before=\"…\", revoked)")),
        }
    }
    Ok(entry)
}

/// The first space-separated word and the rest (trimmed).
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// The options word (which may hold spaces inside quotes) and the rest.
fn split_options(text: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Ok((&text[..i], text[i..].trim_start())),
            _ => {}
        }
    }
    Err(if quoted { "an option's quote is not closed".into() } else { "no key after the options".into() })
}

/// Comma-separated options, commas inside quotes kept.
fn split_list(options: &str) -> Result<Vec<&str>, String> {
    if options.is_empty() {
        return Ok(Vec::new());
    }
    let (mut out, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&options[start..]);
    if out.iter().any(|o| o.is_empty()) {
        return Err("an empty option".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SigningKey;

    fn key(n: u8) -> PublicKey {
        SigningKey::from_seed(&[n; 32]).public_key()
    }

    #[test]
    fn parses_renders_and_keeps_comments() {
        let text = format!(
            "# team keys\n\nada@example.com {} laptop\nagent:agent-7,agent:agent-8 models=\"claude-opus-4,gpt-5\",valid-after=\"20260101\",valid-before=\"202701011200Z\" {}\nbob@example.com revoked {}\n",
            key(1).to_openssh(),
            key(2).to_openssh(),
            key(3).to_openssh()
        );
        let parsed = AllowedSigners::parse(&text).expect("parses");
        assert_eq!(parsed.render(), text);
        let entries: Vec<_> = parsed.entries().collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].comment, "laptop");
        assert_eq!(entries[1].principals, ["agent:agent-7", "agent:agent-8"]);
        assert_eq!(entries[1].models, ["claude-opus-4", "gpt-5"]);
        assert_eq!(entries[1].valid_after.as_ref().map(Bound::unix), Some(1_767_225_600));
        assert_eq!(entries[1].valid_before.as_ref().map(Bound::unix), Some(1_798_804_800));
        assert!(entries[2].revoked);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        for bad in [
            "ada@example.com",
            "ada@example.com frobnicate ssh-ed25519 AAAA",
            "ada@example.com valid-after=\"2026\" KEY",
            "agent: KEY",
            "ada@example.com models=\"a\" ssh-ed25519 !!!",
        ] {
            let text = format!("# c\n{}\n", bad.replace("KEY", &key(1).to_openssh()));
            match AllowedSigners::parse(&text) {
                Err(SignError::BadAllowedSigners { line: 2, .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn identities_and_revocation() {
        let commit = Commit { author: "Ada <Ada@Example.com>".into(), ..Commit::default() };
        assert_eq!(Identity::of(&commit), Identity::Person("Ada@Example.com".into()));
        assert!(Identity::of(&commit).is_named_by("ada@example.com"));
        assert!(!Identity::of(&commit).is_named_by("agent:ada@example.com"));
        let agent = Commit { agent_id: "agent-7".into(), ..commit };
        assert!(Identity::of(&agent).is_named_by("agent:agent-7"));
        assert!(!Identity::of(&agent).is_named_by("ada@example.com"));
        let mut signers = AllowedSigners::default();
        signers.add(AllowedSigner::new(vec!["agent:agent-7".into()], key(1)).expect("entry"));
        assert_eq!(signers.revoke(&key(2).key_id()), 0);
        assert_eq!(signers.revoke(&key(1).key_id()), 1);
        assert!(AllowedSigners::parse(&signers.render()).expect("reparses").entries().all(|e| e.revoked));
    }
}
