//! The proxy source: an OpenAI-compatible upstream (vLLM, SGLang, Ollama, llama.cpp's
//! server) reached through reqwest.
//!
//! Each request to the upstream is built fresh: only the JSON body, its content type and
//! the gateway's own upstream key travel. Nothing from the client's headers is copied, so
//! the client's key can never reach the upstream.

use std::future::ready;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use reqwest::{Client, Response, Url};
use serde_json::Value;

use super::{ChunkStream, ModelSource, SourceError, SourceFuture};
use crate::config::ApiKey;

/// Longest upstream error message passed on to the client, in characters.
const MAX_UPSTREAM_MESSAGE_CHARS: usize = 512;
/// How long a connection attempt may take before the upstream counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a proxy source could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("--base-url {url:?} is not an http(s) URL: {why}")]
    BadUrl { url: String, why: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// An OpenAI-compatible upstream.
#[derive(Debug)]
pub struct ProxySource {
    client: Client,
    /// The base URL with no trailing slash, e.g. `http://127.0.0.1:8000/v1`.
    base: String,
    key: Option<ApiKey>,
    timeout: Duration,
    /// The upstream model every request is sent to, whatever model the client named.
    model: Option<String>,
}

impl ProxySource {
    /// `base_url` is what an OpenAI client would be given (it usually ends in `/v1`);
    /// `timeout` bounds the wait for the upstream's next bytes: its response headers, the
    /// whole body of a plain completion, or the next chunk of a stream.
    pub fn new(
        base_url: &str,
        key: Option<ApiKey>,
        timeout: Duration,
    ) -> Result<ProxySource, ProxyError> {
        let bad = |why: String| ProxyError::BadUrl {
            url: base_url.to_string(),
            why,
        };
        let url = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!("scheme {:?}", url.scheme())));
        }
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(timeout)
            .build()
            .map_err(|e| ProxyError::Client(e.to_string()))?;
        Ok(ProxySource {
            client,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            timeout,
            model: None,
        })
    }

    /// Sends every request to `model`, so clients written for another provider can keep
    /// their own model names.
    pub fn with_model(mut self, model: Option<String>) -> ProxySource {
        self.model = model;
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => builder.bearer_auth(key.expose()),
            None => builder,
        }
    }

    async fn post(&self, mut request: Value) -> Result<Response, SourceError> {
        if let Some(model) = &self.model {
            request["model"] = Value::String(model.clone());
        }
        let response = self
            .request(reqwest::Method::POST, "/chat/completions")
            .json(&request)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        self.check_status(response).await
    }

    async fn get(&self, path: &str) -> Result<Response, SourceError> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        self.check_status(response).await
    }

    /// Passes a success through; turns an error status into [`SourceError::Status`] with
    /// the upstream's own message where it gave one.
    async fn check_status(&self, response: Response) -> Result<Response, SourceError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(SourceError::Status {
            status: status.as_u16(),
            message: upstream_message(&text),
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> SourceError {
        if e.is_timeout() {
            SourceError::Timeout {
                seconds: self.timeout.as_secs(),
            }
        } else if e.is_connect() {
            SourceError::Unreachable(e.to_string())
        } else if e.is_decode() || e.is_body() {
            SourceError::Garbage(e.to_string())
        } else {
            SourceError::Unreachable(e.to_string())
        }
    }

    async fn json_body(&self, response: Response) -> Result<Value, SourceError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SourceError::Garbage(format!("body is not JSON ({e})")))
    }
}

/// The `error.message` of an OpenAI-shaped error body, else the text itself, cut short.
fn upstream_message(text: &str) -> String {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.trim().to_string());
    match message.char_indices().nth(MAX_UPSTREAM_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

/// One SSE `data:` payload as a chunk; an in-band `{"error": ...}` is an upstream failure.
fn parse_chunk(data: &str) -> Result<Value, SourceError> {
    let chunk: Value = serde_json::from_str(data)
        .map_err(|e| SourceError::Garbage(format!("stream event is not JSON ({e})")))?;
    if let Some(error) = chunk.get("error") {
        let status = error
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..600).contains(c))
            .unwrap_or(500);
        return Err(SourceError::Status {
            status,
            message: upstream_message(&chunk.to_string()),
        });
    }
    Ok(chunk)
}

impl ModelSource for ProxySource {
    fn complete(&self, request: Value) -> SourceFuture<'_, Value> {
        Box::pin(async move {
            let response = self.post(request).await?;
            self.json_body(response).await
        })
    }

    fn stream(&self, request: Value) -> SourceFuture<'_, ChunkStream> {
        Box::pin(async move {
            let response = self.post(request).await?;
            let seconds = self.timeout.as_secs();
            let chunks = response
                .bytes_stream()
                .eventsource()
                .take_while(|event| ready(!matches!(event, Ok(e) if e.data.trim() == "[DONE]")))
                .map(move |event| match event {
                    Ok(e) => parse_chunk(&e.data),
                    Err(EventStreamError::Transport(e)) if e.is_timeout() => {
                        Err(SourceError::Timeout { seconds })
                    }
                    Err(EventStreamError::Transport(e)) => {
                        Err(SourceError::Unreachable(e.to_string()))
                    }
                    Err(e) => Err(SourceError::Garbage(format!("not an event stream ({e})"))),
                });
            Ok(Box::pin(chunks) as ChunkStream)
        })
    }

    fn models(&self) -> SourceFuture<'_, Value> {
        Box::pin(async move {
            let response = self.get("/models").await?;
            self.json_body(response).await
        })
    }

    fn ready(&self) -> SourceFuture<'_, ()> {
        Box::pin(async move { self.get("/models").await.map(drop) })
    }

    fn describe(&self) -> String {
        match &self.model {
            Some(model) => format!("proxy to {} (model {model})", self.base),
            None => format!("proxy to {}", self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_message_prefers_the_openai_error_message() {
        assert_eq!(
            upstream_message(r#"{"error":{"message":"model x not found"}}"#),
            "model x not found"
        );
        assert_eq!(upstream_message("  plain failure \n"), "plain failure");
        assert_eq!(upstream_message(&"é".repeat(600)).chars().count(), 513);
    }

    #[test]
    fn an_in_band_stream_error_is_an_upstream_failure() {
        let e = parse_chunk(r#"{"error":{"message":"engine died","code":503}}"#).unwrap_err();
        assert_eq!(
            e,
            SourceError::Status {
                status: 503,
                message: "engine died".into()
            }
        );
        assert!(matches!(parse_chunk("{nope"), Err(SourceError::Garbage(_))));
    }

    #[test]
    fn base_url_must_be_http() {
        let err = ProxySource::new("ftp://x", None, Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("scheme"), "{err}");
        assert!(ProxySource::new("not a url", None, Duration::from_secs(1)).is_err());
    }
}
