//! The policy file as written: `fak-policy/v1` JSON, read strictly.
//!
//! Strict means: an unknown key anywhere is an error that names its path
//! (`policy.json: unknown key "rules.fs_write.path.allow_globz"`), a wrong type names its
//! path too, and nothing falls back to a default when the file is broken. `{}` is a valid
//! policy: it allows nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PolicyError;
use crate::refusal::RefusalCode;

/// The only version this kernel reads. A file without `version` is read as this version.
pub const POLICY_VERSION: &str = "fak-policy/v1";

/// A policy file, field for field. README's "Policy fields" section says what each does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Tool names allowed exactly.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Tool-name prefixes allowed (`"kb."` allows `kb.search`).
    #[serde(default)]
    pub allow_prefix: Vec<String>,
    /// Tools refused with a chosen code, whatever `allow` says.
    #[serde(default)]
    pub deny: BTreeMap<String, RefusalCode>,
    /// Argument rules: tool name (or `*`) -> argument name (or `*`) -> rule.
    #[serde(default)]
    pub rules: BTreeMap<String, BTreeMap<String, ArgRuleFile>>,
    /// Extra path globs no write-shaped tool may touch (the policy file and the audit
    /// journal are always protected).
    #[serde(default)]
    pub protect: Vec<String>,
    /// Argument keys replaced by `"[REDACTED]"` before dispatch: tool name (or `*`) -> keys.
    #[serde(default)]
    pub redact: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rate_limit: RateLimitFile,
    #[serde(default)]
    pub flow: FlowFile,
    /// Irreversible tools: a call is held with a confirm token until re-sent with it.
    #[serde(default)]
    pub require_confirm: Vec<String>,
    /// Seconds a confirm token stays valid (default 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_ttl_s: Option<u64>,
    #[serde(default)]
    pub vdso: VdsoFile,
    #[serde(default)]
    pub admission: AdmissionFile,
}

/// A rule on one argument.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArgRuleFile {
    /// The argument is a path: normalized, `..` escapes refused, symlinks of existing
    /// prefixes resolved, then it must match one of these globs (relative globs are
    /// relative to the kernel's base directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_glob: Option<Vec<String>>,
    /// The argument (its text, or its canonical JSON if not a string) must match none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_regex: Vec<String>,
    /// Largest allowed size of the argument in bytes (UTF-8 text or canonical JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// A token bucket: `calls` calls per `per_s` seconds, refilled continuously.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitFile {
    pub calls: u32,
    pub per_s: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimitFile {
    /// One bucket per trace (conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_trace: Option<LimitFile>,
    /// One bucket per named tool, shared by all traces.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_tool: BTreeMap<String, LimitFile>,
    /// One bucket for every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<LimitFile>,
}

/// Information flow: where untrusted content comes from and where it must not go.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowFile {
    /// Tools whose results taint the trace that receives them.
    #[serde(default)]
    pub untrusted_sources: Vec<String>,
    /// Tools that send data out.
    #[serde(default)]
    pub egress: Vec<String>,
    /// Tools that destroy or irreversibly change state.
    #[serde(default)]
    pub destructive: Vec<String>,
    /// Tools that run code.
    #[serde(default)]
    pub exec: Vec<String>,
    /// (source, sink) pairs a tainted trace may still use.
    #[serde(default)]
    pub authorized: Vec<FlowPairFile>,
    /// Hosts egress sinks may reach (`api.example.com` or `*.example.com`); URL
    /// arguments of an egress sink naming any other host are refused.
    #[serde(default)]
    pub egress_hosts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPairFile {
    pub source: String,
    pub sink: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VdsoFile {
    /// Seconds a local answer stays valid; absent: until the world or policy changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
    /// Most answers kept (default 4096); the oldest goes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdmissionFile {
    /// Benign results larger than this many bytes are paged out (default 16384).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_out_bytes: Option<usize>,
    /// Results larger than this many bytes are refused as OVERSIZE (default 4194304).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_result_bytes: Option<usize>,
}

impl PolicyFile {
    /// Parses policy text strictly. `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<PolicyFile, PolicyError> {
        let mut unknown: Vec<String> = Vec::new();
        let mut json = serde_json::Deserializer::from_str(text);
        let file: PolicyFile = {
            let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
            let ignored = serde_ignored::Deserializer::new(&mut json, &mut on_unknown);
            serde_path_to_error::deserialize(ignored).map_err(|e| PolicyError::Invalid {
                file: source.to_string(),
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?
        };
        json.end().map_err(|e| PolicyError::Invalid {
            file: source.to_string(),
            path: ".".to_string(),
            message: e.to_string(),
        })?;
        if let Some(path) = unknown.into_iter().next() {
            return Err(PolicyError::UnknownKey {
                file: source.to_string(),
                path,
            });
        }
        match file.version.as_deref() {
            None | Some(POLICY_VERSION) => Ok(file),
            Some(other) => Err(PolicyError::Version {
                file: source.to_string(),
                found: other.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_parses_to_empty_policy() {
        assert_eq!(
            PolicyFile::parse("{}", "p.json").unwrap(),
            PolicyFile::default()
        );
    }

    #[test]
    fn unknown_nested_key_is_named_by_its_path() {
        let err = PolicyFile::parse(
            r#"{"rules": {"fs_write": {"path": {"allow_globz": ["/tmp/**"]}}}}"#,
            "policy.json",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"policy.json: unknown key "rules.fs_write.path.allow_globz""#
        );
    }

    #[test]
    fn unknown_top_level_key_is_an_error() {
        let err = PolicyFile::parse(r#"{"alow": ["x"]}"#, "p.json").unwrap_err();
        assert_eq!(err.to_string(), r#"p.json: unknown key "alow""#);
    }

    #[test]
    fn wrong_type_names_its_path() {
        let err = PolicyFile::parse(
            r#"{"rate_limit": {"global": {"calls": "ten", "per_s": 1}}}"#,
            "p.json",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("p.json: rate_limit.global.calls: invalid type"),
            "{text}"
        );
    }

    #[test]
    fn unknown_refusal_code_in_deny_is_an_error() {
        let err = PolicyFile::parse(r#"{"deny": {"rm": "NOPE"}}"#, "p.json").unwrap_err();
        assert!(err.to_string().contains("deny.rm"), "{err}");
    }

    #[test]
    fn other_version_is_refused() {
        let err = PolicyFile::parse(r#"{"version": "fak-policy/v2"}"#, "p.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"p.json: unsupported version "fak-policy/v2" (this kernel reads "fak-policy/v1")"#
        );
    }

    #[test]
    fn trailing_garbage_and_broken_json_are_errors() {
        assert!(PolicyFile::parse("{} x", "p.json").is_err());
        assert!(PolicyFile::parse("{\"allow\": [", "p.json").is_err());
        assert!(PolicyFile::parse("", "p.json").is_err());
    }
}
