//! Errors as clients read them: OpenAI- or Anthropic-shaped JSON with the right status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::source::SourceError;

/// Which API shape a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
}

impl Wire {
    /// The wire a path speaks: `/v1/messages` is Anthropic's, everything else OpenAI's.
    pub fn for_path(path: &str) -> Wire {
        if path.starts_with("/v1/messages") {
            Wire::Anthropic
        } else {
            Wire::OpenAi
        }
    }
}

/// What went wrong, in the few categories both wires name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    NotFound,
    TooLarge,
    RateLimited,
    Overloaded,
    BadGateway,
    GatewayTimeout,
    Internal,
}

impl ErrorKind {
    fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorKind::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `error.type`.
    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::TooLarge => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::BadGateway | ErrorKind::GatewayTimeout => "upstream_error",
            ErrorKind::Internal => "server_error",
        }
    }

    /// Anthropic's `error.type`.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::GatewayTimeout => "timeout_error",
            ErrorKind::BadGateway | ErrorKind::Internal => "api_error",
        }
    }
}

/// An error response. Rendered in the wire of the endpoint that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub wire: Wire,
    /// Seconds for a `Retry-After` header (load shedding).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            wire: Wire::OpenAi,
            retry_after_s: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::InvalidRequest, message)
    }

    pub fn on(mut self, wire: Wire) -> ApiError {
        self.wire = wire;
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The JSON body, also used as an in-stream error event.
    pub fn body(&self) -> Value {
        match self.wire {
            Wire::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": null,
                    "code": self.status().as_u16().to_string(),
                }
            }),
            Wire::Anthropic => json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message },
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<SourceError> for ApiError {
    /// Upstream failures are the gateway's 502/504; an upstream 404 stays a 404 (an
    /// unknown model) and the client's own mistakes (400, 413, 422, 429) keep their status.
    /// An upstream 401/403 is the gateway's misconfiguration, not the client's: 502. The
    /// in-kernel model's refusals are 400 (404 for a model it does not serve), its
    /// failures 500.
    fn from(e: SourceError) -> ApiError {
        let kind = match &e {
            SourceError::Unreachable(_) | SourceError::Garbage(_) => ErrorKind::BadGateway,
            SourceError::Timeout { .. } => ErrorKind::GatewayTimeout,
            SourceError::UnknownModel { .. } => ErrorKind::NotFound,
            SourceError::Refused(_) => ErrorKind::InvalidRequest,
            SourceError::Engine(_) => ErrorKind::Internal,
            SourceError::Status { status, .. } => match status {
                404 => ErrorKind::NotFound,
                400 | 422 => ErrorKind::InvalidRequest,
                413 => ErrorKind::TooLarge,
                429 => ErrorKind::RateLimited,
                _ => ErrorKind::BadGateway,
            },
        };
        ApiError::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_map_to_502_504_and_keep_client_errors() {
        let status = |e: SourceError| ApiError::from(e).status().as_u16();
        assert_eq!(status(SourceError::Unreachable("refused".into())), 502);
        assert_eq!(status(SourceError::Garbage("x".into())), 502);
        assert_eq!(status(SourceError::Timeout { seconds: 3 }), 504);
        let code = |status| SourceError::Status {
            status,
            message: String::new(),
        };
        assert_eq!(status(code(404)), 404);
        assert_eq!(status(code(400)), 400);
        assert_eq!(status(code(401)), 502);
        assert_eq!(status(code(503)), 502);
        let unknown = SourceError::UnknownModel {
            requested: "m".into(),
            served: "qwen3".into(),
        };
        assert_eq!(status(unknown), 404);
        assert_eq!(status(SourceError::Refused("stop: no".into())), 400);
        assert_eq!(status(SourceError::Engine("pool".into())), 500);
    }

    #[test]
    fn bodies_follow_each_wire() {
        let e = ApiError::new(ErrorKind::NotFound, "no model m");
        assert_eq!(e.body()["error"]["type"], "not_found_error");
        assert_eq!(e.body()["error"]["message"], "no model m");
        let a = e.on(Wire::Anthropic).body();
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "not_found_error");
    }
}
