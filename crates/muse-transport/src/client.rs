//! The HTTP side: one [`Remote`] per repository URL, with the token, the protocol headers, error
//! decoding and the retry policy shared by every request.

use std::io::Read;
use std::time::Duration;

use muse_core::CommitId;
use muse_protocol::{endpoint, ErrorBody, ErrorInfo, NegotiateRequest, NegotiateResponse, RefAdvertisement, RepoUrl, VERSION, VERSION_HEADER};
use ureq::http::Response;
use ureq::Body;

use crate::error::{code_of_status, Result, TransportError};

/// Largest error or JSON body read into memory.
const MAX_JSON_BODY: u64 = 64 << 20;

/// How often a request cut by the network is tried again, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// The wait before the first retry; it doubles each time (at most 8 s).
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { retries: 4, backoff: Duration::from_millis(250) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(5);
        (self.backoff * factor).min(Duration::from_secs(8))
    }
}

/// A repository on a hub, and how to talk to it.
pub struct Remote {
    url: RepoUrl,
    agent: ureq::Agent,
    token: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Remote").field("url", &self.url.to_string()).field("authenticated", &self.token.is_some()).finish()
    }
}

/// The failure of one attempt: worth retrying (the network) or final.
pub(crate) enum Attempt {
    /// The connection failed or the server is overloaded: try again.
    Retry(TransportError),
    /// Anything else.
    Fail(TransportError),
}

impl From<TransportError> for Attempt {
    fn from(e: TransportError) -> Self {
        Attempt::Fail(e)
    }
}

impl Remote {
    /// A client of the repository at `url`, sending `token` (if any) as a bearer token.
    pub fn new(url: RepoUrl, token: Option<String>) -> Remote {
        Remote { url, agent: Remote::new_agent(), token, retry: RetryPolicy::default() }
    }

    /// The HTTP agent every request goes through: error statuses are answers (their bodies
    /// are read), redirects are not followed (a token must not travel elsewhere).
    fn new_agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(15)))
            .user_agent(concat!("muse/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Remote {
        self.retry = retry;
        self
    }

    /// The repository's URL.
    pub fn url(&self) -> &RepoUrl {
        &self.url
    }

    /// Whether a token is sent.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The retry policy.
    pub(crate) fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// `GET REPO/muse/refs`: the repository's refs, default branch and capabilities.
    pub fn advertise(&self) -> Result<RefAdvertisement> {
        let url = self.url.endpoint(endpoint::REFS);
        let advert: RefAdvertisement = self.with_retries(|| {
            let response = self.send(self.agent.get(&url), &url, None)?;
            read_json(&url, response)
        })?;
        if advert.protocol != VERSION {
            return Err(TransportError::Protocol { url, reason: format!("it speaks protocol {}, this muse speaks {VERSION}", advert.protocol) });
        }
        Ok(advert)
    }

    /// `POST REPO/muse/negotiate`: which of `haves` (at most 4096) the server holds.
    pub fn negotiate_round(&self, haves: &[CommitId]) -> Result<Vec<CommitId>> {
        let url = self.url.endpoint(endpoint::NEGOTIATE);
        let body = serde_json::to_vec(&NegotiateRequest { haves: haves.to_vec() }).map_err(|e| protocol(&url, e))?;
        let answer: NegotiateResponse = self.with_retries(|| {
            let response = self.send(self.agent.post(&url).content_type(muse_protocol::JSON_CONTENT_TYPE), &url, Some(&body))?;
            read_json(&url, response)
        })?;
        Ok(answer.common)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
    pub(crate) fn with_retries<T>(&self, mut attempt: impl FnMut() -> std::result::Result<T, Attempt>) -> Result<T> {
        let mut tries = 0;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) if tries >= self.retry.retries => return Err(e),
                Err(Attempt::Retry(_)) => {
                    tries += 1;
                    std::thread::sleep(self.retry.delay(tries));
                }
            }
        }
    }

    /// Adds the protocol header and the token to `request`.
    pub(crate) fn prepare<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let request = request.header(VERSION_HEADER, VERSION.to_string());
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// Sends a request (with `body` for POST/PUT), mapping transport failures to retryable
    /// attempts and error statuses to [`TransportError::Server`] (503 and 429 retryable).
    pub(crate) fn send<B: RequestKind>(
        &self,
        request: ureq::RequestBuilder<B>,
        url: &str,
        body: Option<&[u8]>,
    ) -> std::result::Result<Response<Body>, Attempt> {
        let response = B::send(self.prepare(request), body).map_err(|e| network(url, e))?;
        check_status(url, response)
    }

    /// The agent, for requests built by the fetch and push modules.
    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}

/// The two shapes of ureq requests: with a body (POST, PUT) or without (GET, HEAD).
pub(crate) trait RequestKind: Sized {
    /// Sends the request.
    fn send(request: ureq::RequestBuilder<Self>, body: Option<&[u8]>) -> std::result::Result<Response<Body>, ureq::Error>;
}

impl RequestKind for ureq::typestate::WithBody {
    fn send(request: ureq::RequestBuilder<Self>, body: Option<&[u8]>) -> std::result::Result<Response<Body>, ureq::Error> {
        request.send(body.unwrap_or_default())
    }
}

impl RequestKind for ureq::typestate::WithoutBody {
    fn send(request: ureq::RequestBuilder<Self>, _: Option<&[u8]>) -> std::result::Result<Response<Body>, ureq::Error> {
        request.call()
    }
}

/// A ureq failure as an attempt: the network's failures are retried, a malformed URL is not.
pub(crate) fn network(url: &str, e: ureq::Error) -> Attempt {
    let error = TransportError::Network { url: url.to_string(), reason: e.to_string() };
    match e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl | ureq::Error::Tls(_) => Attempt::Fail(error),
        _ => Attempt::Retry(error),
    }
}

/// Passes 2xx responses through; turns the others into [`TransportError::Server`].
pub(crate) fn check_status(url: &str, response: Response<Body>) -> std::result::Result<Response<Body>, Attempt> {
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let body = error_body(status, response);
    let error = TransportError::Server { url: url.to_string(), status, body };
    match status {
        // Overload and shutdown: wait (as told, within reason) and try again.
        429 | 503 => {
            if let Some(secs) = retry_after {
                std::thread::sleep(Duration::from_secs(secs.min(10)));
            }
            Err(Attempt::Retry(error))
        }
        _ => Err(Attempt::Fail(error)),
    }
}

/// The error body of a failed response, or one derived from its status when the body is not a
/// protocol error (a proxy's page, a server that is not a hub).
fn error_body(status: u16, response: Response<Body>) -> ErrorBody {
    let mut text = String::new();
    let _ = response.into_body().into_reader().take(1 << 20).read_to_string(&mut text);
    if let Ok(body) = serde_json::from_str::<ErrorBody>(&text) {
        return body;
    }
    let hint = if status == 404 { " (no such repository, or no read access; is the URL a Muse hub's?)" } else { "" };
    let snippet: String = text.trim().chars().take(200).collect();
    let message = if snippet.is_empty() { format!("HTTP {status}{hint}") } else { format!("HTTP {status}{hint}: {snippet}") };
    ErrorBody { error: ErrorInfo { code: code_of_status(status).to_string(), message, details: None } }
}

/// Reads a JSON response body (at most 64 MiB); a cut is retried, a malformed body is not.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(url: &str, response: Response<Body>) -> std::result::Result<T, Attempt> {
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_JSON_BODY)
        .read_to_end(&mut bytes)
        .map_err(|e| Attempt::Retry(TransportError::Network { url: url.to_string(), reason: e.to_string() }))?;
    serde_json::from_slice(&bytes).map_err(|e| Attempt::Fail(protocol(url, e)))
}

/// A protocol error at `url`.
pub(crate) fn protocol(url: &str, reason: impl std::fmt::Display) -> TransportError {
    TransportError::Protocol { url: url.to_string(), reason: reason.to_string() }
}

/// The answer to a token request: only the token is read.
#[derive(serde::Deserialize)]
struct NewToken {
    token: String,
}

/// `POST URL` with Basic authentication and `{"label", "scope"}`: a new token.
pub(crate) fn request_token(url: &str, user: &str, password: &str, label: &str, scope: &str) -> Result<String> {
    use base64_lite::encode;
    let remote_less = Remote::new_agent();
    let body = serde_json::json!({ "label": label, "scope": scope }).to_string();
    let basic = encode(format!("{user}:{password}").as_bytes());
    let response = remote_less
        .post(url)
        .header("Content-Type", muse_protocol::JSON_CONTENT_TYPE)
        .header("Authorization", format!("Basic {basic}"))
        .send(body.as_bytes())
        .map_err(|e| match network(url, e) {
            Attempt::Retry(e) | Attempt::Fail(e) => e,
        })?;
    let response = check_status(url, response).map_err(|a| match a {
        Attempt::Retry(e) | Attempt::Fail(e) => e,
    })?;
    let token: NewToken = read_json(url, response).map_err(|a| match a {
        Attempt::Retry(e) | Attempt::Fail(e) => e,
    })?;
    Ok(token.token)
}

/// Standard base64 (RFC 4648, with padding), for the Basic authentication header.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Encodes `data`.
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[cfg(test)]
    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(encode(plain.as_bytes()), coded);
        }
    }
}
