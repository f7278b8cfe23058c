//! Agent provenance read from a git commit message: trailers and conventional-commit markers.
//!
//! The trailer block is the last paragraph of a message that has more than one paragraph. In it,
//! a line `Token: value` starts a trailer (`Token` is letters, digits and `-`, or exactly
//! `BREAKING CHANGE`; matched without regard to case) and any other line continues the value of
//! the trailer before it, so multi-line breaking-change descriptions survive. `docs/import-git.md`
//! lists what each token maps to.

use muse_core::SemVerBump;

/// Provenance fields found in one message. Empty strings mean "not stated".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Provenance {
    /// From `Agent-Id:`, else `Assisted-by:`, else a `Co-authored-by:` naming a known agent.
    pub agent_id: String,
    /// From `Model-Id:`, else `Assisted-by:`, else a co-author's model (`aider (gpt-4o)`,
    /// `Claude Sonnet 4.5`, `gpt-5.1-codex`).
    pub model_id: String,
    /// From `Toolchain-Id:`, else the tools an `Assisted-by:` lists.
    pub toolchain_id: String,
    /// From `Semver:`; `Major` when a breaking change is declared and no `Semver:` is given.
    pub sem_ver_bump: SemVerBump,
    /// From `Breaking-Change:` / `BREAKING CHANGE:` trailers, or the subject of a `type!:` commit.
    pub breaking_changes: Vec<String>,
}

/// Agents recognised in `Co-authored-by:`: (canonical id, name token, e-mail domains).
/// A co-author names an agent when its e-mail domain is one of the domains, or when its name
/// starts with the token and its e-mail is a no-reply or bot address (so that a person called
/// Claude or Devin is not mistaken for an agent).
const KNOWN_AGENTS: &[(&str, &str, &[&str])] = &[
    ("claude", "claude", &["anthropic.com"]),
    ("copilot", "copilot", &[]),
    ("codex", "codex", &["openai.com"]),
    ("cursor", "cursor", &["cursor.com", "cursor.sh"]),
    ("aider", "aider", &["aider.chat"]),
    ("devin", "devin", &["cognition.ai"]),
    ("gemini", "gemini", &[]),
];

/// Extracts provenance from a commit message.
pub(crate) fn provenance(message: &str) -> Provenance {
    let mut out = Provenance::default();
    let mut semver: Option<SemVerBump> = None;
    let mut co_agent: Option<(String, String)> = None;
    let mut assisted: Option<(String, String, String)> = None;
    for (token, value) in trailers(message) {
        let value = value.trim().to_string();
        match token.to_ascii_lowercase().as_str() {
            "agent-id" if out.agent_id.is_empty() => out.agent_id = value,
            "model-id" if out.model_id.is_empty() => out.model_id = value,
            "toolchain-id" if out.toolchain_id.is_empty() => out.toolchain_id = value,
            "semver" if semver.is_none() => semver = value.to_ascii_lowercase().parse().ok(),
            "breaking-change" | "breaking change" if !value.is_empty() => out.breaking_changes.push(value),
            "co-authored-by" if co_agent.is_none() => co_agent = agent_of(&value),
            "assisted-by" if assisted.is_none() => assisted = assisted_by(&value),
            _ => {}
        }
    }
    if let Some((agent, model, tools)) = assisted {
        for (field, value) in [(&mut out.agent_id, agent), (&mut out.model_id, model), (&mut out.toolchain_id, tools)] {
            if field.is_empty() {
                *field = value;
            }
        }
    }
    if let Some((agent, model)) = co_agent {
        if out.agent_id.is_empty() {
            out.agent_id = agent;
        }
        if out.model_id.is_empty() {
            out.model_id = model;
        }
    }
    if out.breaking_changes.is_empty() {
        if let Some(description) = bang_description(message) {
            out.breaking_changes.push(description);
        }
    }
    out.sem_ver_bump = semver.unwrap_or(if out.breaking_changes.is_empty() { SemVerBump::None } else { SemVerBump::Major });
    out
}

/// The `(token, value)` trailers of the message's trailer block, in order.
fn trailers(message: &str) -> Vec<(&str, String)> {
    let paragraphs: Vec<&str> = split_paragraphs(message);
    let Some(block) = paragraphs.last().filter(|_| paragraphs.len() > 1) else { return Vec::new() };
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in block.lines() {
        match token_line(line) {
            Some((token, value)) => out.push((token, value.to_string())),
            None => {
                if let Some((_, value)) = out.last_mut() {
                    value.push('\n');
                    value.push_str(line.trim_end());
                }
            }
        }
    }
    out
}

/// The non-empty paragraphs of a message (separated by lines holding only whitespace).
fn split_paragraphs(message: &str) -> Vec<&str> {
    let mut paragraphs = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in message.split_inclusive('\n') {
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                paragraphs.push(&message[s..offset]);
            }
        } else if start.is_none() {
            start = Some(offset);
        }
        offset += line.len();
    }
    if let Some(s) = start {
        paragraphs.push(&message[s..]);
    }
    paragraphs
}

/// Splits `Token: value` (or `BREAKING CHANGE: value`), or returns `None` for other lines.
fn token_line(line: &str) -> Option<(&str, &str)> {
    let (token, value) = line.split_once(':')?;
    let is_token = token.eq_ignore_ascii_case("BREAKING CHANGE")
        || (!token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !token.starts_with('-'));
    let value_ok = value.is_empty() || value.starts_with([' ', '\t']);
    (is_token && value_ok).then_some((token, value))
}

/// The agent a `Co-authored-by:` value names, as (agent id, model id).
fn agent_of(co_author: &str) -> Option<(String, String)> {
    let (name, email) = match co_author.rsplit_once('<') {
        Some((name, rest)) => (name.trim(), rest.trim_end().trim_end_matches('>').to_ascii_lowercase()),
        None => (co_author.trim(), String::new()),
    };
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    let first_word = name.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("").to_ascii_lowercase();
    let automated = email.contains("noreply") || email.contains("no-reply") || email.contains("[bot]");
    let agent = KNOWN_AGENTS
        .iter()
        .find(|(_, token, domains)| domains.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}"))) || (first_word == *token && automated))
        .map(|(agent, _, _)| agent.to_string());
    let model = match (name.find('('), name.rfind(')')) {
        (Some(open), Some(close)) if open < close => name[open + 1..close].trim().to_string(),
        _ => model_named(name).unwrap_or_default(),
    };
    // A co-author that is no known agent still counts when its name is a model's.
    match agent {
        Some(agent) => Some((agent, model)),
        None if !model.is_empty() => Some((String::new(), model)),
        None => None,
    }
}

/// Model families recognised in a co-author's name (lowercase prefixes of model ids).
const MODEL_FAMILIES: &[&str] = &["claude-", "gpt-", "gemini-", "o1", "o3", "o4-", "codestral", "devstral", "deepseek-", "qwen", "grok-", "llama-"];

/// The model id a co-author's name is: a model id itself (`gpt-5.1-codex`), or a Claude model's
/// display name (`Claude Sonnet 4.5` → `claude-sonnet-4-5`).
fn model_named(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    let is_id = |s: &str| {
        MODEL_FAMILIES.iter().any(|f| s.starts_with(f))
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/' | b':'))
    };
    if is_id(&lower) {
        return Some(lower);
    }
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words.as_slice() {
        ["claude", family @ ("opus" | "sonnet" | "haiku"), version] if version.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            Some(format!("claude-{family}-{}", version.replace('.', "-")))
        }
        _ => None,
    }
}

/// The (agent, model, tools) of an `Assisted-by: AGENT:MODEL [TOOL…]` trailer (the Linux
/// kernel's form: `Assisted-by: Claude:claude-3-opus coccinelle sparse`). The agent is the
/// known agent's id when it names one, else as written, lowercased.
fn assisted_by(value: &str) -> Option<(String, String, String)> {
    let mut words = value.split_whitespace();
    let (agent, model) = words.next()?.split_once(':')?;
    let agent = agent.to_ascii_lowercase();
    let agent = KNOWN_AGENTS.iter().find(|(_, token, _)| agent == *token).map_or(agent.clone(), |(id, _, _)| id.to_string());
    let tools: Vec<&str> = words.collect();
    (!agent.is_empty() || !model.is_empty()).then(|| (agent, model.to_string(), tools.join(" ")))
}

/// The description of a conventional-commit subject marked breaking (`feat(api)!: drop v1`).
fn bang_description(message: &str) -> Option<String> {
    let subject = message.lines().next()?;
    let (head, description) = subject.split_once(':')?;
    let kind = head.strip_suffix('!')?;
    let kind = match kind.split_once('(') {
        Some((kind, scope)) if scope.ends_with(')') && !scope[..scope.len() - 1].contains([')', '(']) => kind,
        Some(_) => return None,
        None => kind,
    };
    let well_formed = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphabetic()) && description.starts_with(' ');
    well_formed.then(|| description.trim().to_string()).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_trailers_fill_the_fields() {
        let p = provenance(
            "Add parser\n\nBody text.\n\nAgent-Id: agent-7\nModel-Id: claude-opus-4\nToolchain-Id: muse-cli 0.1\nSemver: Minor\nSigned-off-by: Ada <a@x>\n",
        );
        assert_eq!(p.agent_id, "agent-7");
        assert_eq!(p.model_id, "claude-opus-4");
        assert_eq!(p.toolchain_id, "muse-cli 0.1");
        assert_eq!(p.sem_ver_bump, SemVerBump::Minor);
        assert!(p.breaking_changes.is_empty());
    }

    #[test]
    fn co_authors_name_known_agents_only() {
        let claude = provenance("Fix\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n");
        assert_eq!(claude.agent_id, "claude");
        let copilot = provenance("Fix\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>\n");
        assert_eq!(copilot.agent_id, "copilot");
        let cursor = provenance("Fix\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>\n");
        assert_eq!(cursor.agent_id, "cursor");
        let aider = provenance("Fix\n\nCo-authored-by: aider (gpt-4o) <noreply@aider.chat>\n");
        assert_eq!((aider.agent_id.as_str(), aider.model_id.as_str()), ("aider", "gpt-4o"));
        let person = provenance("Fix\n\nCo-authored-by: Claude Dupont <claude@example.fr>\n");
        assert_eq!(person.agent_id, "");
        let explicit = provenance("Fix\n\nAgent-Id: bot-1\nCo-authored-by: Claude <noreply@anthropic.com>\n");
        assert_eq!(explicit.agent_id, "bot-1");
    }

    #[test]
    fn assisted_by_gives_agent_model_and_tools() {
        let kernel = provenance("mm: fix\n\nAssisted-by: Claude:claude-3-opus coccinelle sparse\nSigned-off-by: A <a@x>\n");
        assert_eq!((kernel.agent_id.as_str(), kernel.model_id.as_str(), kernel.toolchain_id.as_str()), ("claude", "claude-3-opus", "coccinelle sparse"));
        let other = provenance("x\n\nAssisted-by: MyBot:some-model\n");
        assert_eq!((other.agent_id.as_str(), other.model_id.as_str(), other.toolchain_id.as_str()), ("mybot", "some-model", ""));
        // Explicit trailers win; a value without AGENT:MODEL is ignored.
        let explicit = provenance("x\n\nModel-Id: m1\nAssisted-by: codex:gpt-5\n");
        assert_eq!((explicit.agent_id.as_str(), explicit.model_id.as_str()), ("codex", "m1"));
        assert_eq!(provenance("x\n\nAssisted-by: a friend\n"), Provenance::default());
    }

    #[test]
    fn co_authors_naming_a_model() {
        let sonnet = provenance("x\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>\n");
        assert_eq!((sonnet.agent_id.as_str(), sonnet.model_id.as_str()), ("claude", "claude-sonnet-4-5"));
        let codex = provenance("x\n\nCo-authored-by: gpt-5.1-codex <codex@openai.com>\n");
        assert_eq!((codex.agent_id.as_str(), codex.model_id.as_str()), ("codex", "gpt-5.1-codex"));
        // A model without a known agent: the model alone.
        let bare = provenance("x\n\nCo-authored-by: gemini-2.5-pro <bot@example.com>\n");
        assert_eq!((bare.agent_id.as_str(), bare.model_id.as_str()), ("", "gemini-2.5-pro"));
        // People are not models.
        assert_eq!(provenance("x\n\nCo-authored-by: Claude Sonnet <claude@example.fr>\n"), Provenance::default());
        assert_eq!(provenance("x\n\nCo-authored-by: Olga Petrova <o@example.com>\n"), Provenance::default());
    }

    #[test]
    fn breaking_changes_from_footers_and_bang() {
        let footer = provenance("feat: x\n\nBREAKING CHANGE: drops the v1 API\n  and the v0 one\nRefs: #1\n");
        assert_eq!(footer.breaking_changes, ["drops the v1 API\n  and the v0 one"]);
        assert_eq!(footer.sem_ver_bump, SemVerBump::Major);
        let bang = provenance("feat(api)!: remove v1 endpoints\n");
        assert_eq!(bang.breaking_changes, ["remove v1 endpoints"]);
        let both = provenance("fix!: a\n\nBreaking-Change: described here\nSemver: minor\n");
        assert_eq!(both.breaking_changes, ["described here"]);
        assert_eq!(both.sem_ver_bump, SemVerBump::Minor);
        assert!(provenance("Merge branch 'x'!: no\n").breaking_changes.is_empty());
        assert!(provenance("feat!:no space\n").breaking_changes.is_empty());
    }

    #[test]
    fn trailers_need_a_separate_last_paragraph() {
        assert_eq!(provenance("Agent-Id: only-a-subject\n"), Provenance::default());
        assert_eq!(provenance("Subject\n\nAgent-Id: x\n\nLast paragraph prose.\n").agent_id, "");
        assert_eq!(provenance("Subject\n\nSemver: huge\n").sem_ver_bump, SemVerBump::None);
        assert_eq!(provenance("Subject\n\nhttp://example.com: no\n").agent_id, "");
    }
}
