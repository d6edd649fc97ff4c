//! The gateway's settings: keys read from the environment and the operational limits.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use subtle::ConstantTimeEq;

/// Default listen address: loopback only, so nothing is exposed until asked.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default request body bound, in bytes (8 MiB: long transcripts with tool results).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default bound on requests in flight at once; beyond it requests are shed with 503.
pub const DEFAULT_MAX_CONCURRENT: usize = 256;
/// Default wait for the upstream's next bytes, in seconds.
pub const DEFAULT_UPSTREAM_TIMEOUT_S: u64 = 120;
/// Default bound on live conversations (traces); beyond it new ones are refused with 503.
pub const DEFAULT_MAX_TRACES: usize = 100_000;
/// Default idle time after which a conversation's taint is forgotten, in seconds (24 h).
pub const DEFAULT_TRACE_IDLE_S: u64 = 24 * 60 * 60;

/// Why a setting could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set (named by {flag})")]
    KeyUnset { name: String, flag: &'static str },
    #[error("environment variable {name} is empty (named by {flag}); refusing to start")]
    KeyEmpty { name: String, flag: &'static str },
    #[error("environment variable {name} is not valid UTF-8 (named by {flag})")]
    KeyNotUnicode { name: String, flag: &'static str },
}

/// A shared secret. Never printed; compared in constant time.
#[derive(Clone)]
pub struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl ApiKey {
    /// A key given directly. Empty keys are refused: an empty key would let anyone in.
    pub fn new(key: impl Into<String>) -> Option<ApiKey> {
        let key = key.into();
        (!key.is_empty()).then_some(ApiKey(key))
    }

    /// Reads the key from the environment variable `name`; `flag` is the command-line
    /// flag that named it, for the error message. Unset, empty or non-UTF-8 is an error.
    pub fn from_env(name: &str, flag: &'static str) -> Result<ApiKey, ConfigError> {
        ApiKey::from_var(name, flag, std::env::var(name))
    }

    /// As [`ApiKey::from_env`], given what `std::env::var(name)` returned.
    pub fn from_var(
        name: &str,
        flag: &'static str,
        value: Result<String, std::env::VarError>,
    ) -> Result<ApiKey, ConfigError> {
        let name = name.to_string();
        match value {
            Ok(value) => ApiKey::new(value).ok_or(ConfigError::KeyEmpty { name, flag }),
            Err(std::env::VarError::NotPresent) => Err(ConfigError::KeyUnset { name, flag }),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ConfigError::KeyNotUnicode { name, flag })
            }
        }
    }

    /// Whether `offered` is this key. The time taken does not depend on where the two
    /// first differ.
    pub fn matches(&self, offered: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(offered).into()
    }

    /// The key itself, for the one place it is sent (the upstream's `Authorization`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Operational bounds.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_concurrent: usize,
    pub max_traces: usize,
    pub trace_idle: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_traces: DEFAULT_MAX_TRACES,
            trace_idle: Duration::from_secs(DEFAULT_TRACE_IDLE_S),
        }
    }
}

/// Everything the gateway needs besides its kernel and its model source.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// The key clients must present; `None` leaves the API open (loopback use).
    pub require_key: Option<ApiKey>,
    pub limits: Limits,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_unset_or_non_unicode_key_variable_is_refused() {
        let flag = "--require-key-env";
        let read = |v| ApiKey::from_var("K", flag, v).map(|k| k.expose().to_string());
        let name = "K".to_string();
        assert_eq!(
            read(Ok(String::new())),
            Err(ConfigError::KeyEmpty {
                name: name.clone(),
                flag
            })
        );
        assert_eq!(
            read(Err(std::env::VarError::NotPresent)),
            Err(ConfigError::KeyUnset {
                name: name.clone(),
                flag
            })
        );
        assert_eq!(
            read(Err(std::env::VarError::NotUnicode("\u{fffd}".into()))),
            Err(ConfigError::KeyNotUnicode { name, flag })
        );
        assert_eq!(read(Ok("k1".into())), Ok("k1".to_string()));
        assert!(ApiKey::from_env("FAK_GATEWAY_TEST_SURELY_UNSET", flag).is_err());
    }

    #[test]
    fn key_matches_only_itself_and_never_prints() {
        let key = ApiKey::new("s3cret").unwrap();
        assert!(key.matches(b"s3cret"));
        assert!(!key.matches(b"s3cre"));
        assert!(!key.matches(b"s3cret!"));
        assert!(!key.matches(b""));
        assert_eq!(format!("{key:?}"), "ApiKey(..)");
    }
}
