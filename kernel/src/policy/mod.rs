//! The policy: what a strict `fak-policy/v1` file compiles into.
//!
//! Compilation checks everything that could fail later (globs, regexes, bounds), so a
//! policy that loads cannot fail while deciding. A broken file stops start-up: there is no
//! fallback to a default.

pub mod confirm;
pub mod file;
pub mod flow;
pub mod paths;
pub mod rate_limit;
pub mod rules;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::GlobSet;

pub use file::{POLICY_VERSION, PolicyFile};
use flow::Flow;
use rules::{ArgRule, ArgSelector};

use crate::refusal::RefusalCode;

/// The built-in starter policy, used when no policy file is given (`fak policy dump`).
pub const DEFAULT_POLICY_JSON: &str = include_str!("default_policy.json");

const DEFAULT_CONFIRM_TTL_S: u64 = 300;
const DEFAULT_VDSO_MAX_ENTRIES: usize = 4096;
const DEFAULT_PAGE_OUT_BYTES: usize = 16 * 1024;
const DEFAULT_MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;

/// Why a policy could not be loaded. Each names the file and, where there is one, the
/// path of the offending key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: unknown key \"{path}\"")]
    UnknownKey { file: String, path: String },
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: unsupported version \"{found}\" (this kernel reads \"{POLICY_VERSION}\")")]
    Version { file: String, found: String },
    #[error("{file}: {path}: {message}")]
    Rule {
        file: String,
        path: String,
        message: String,
    },
}

/// A compiled policy.
#[derive(Clone, Debug)]
pub struct Policy {
    name: String,
    origin: Option<PathBuf>,
    base_dir: PathBuf,
    allow: HashSet<String>,
    allow_prefix: Vec<String>,
    deny: HashMap<String, RefusalCode>,
    rules: HashMap<String, Vec<ArgRule>>,
    protect: GlobSet,
    redact: HashMap<String, BTreeSet<String>>,
    pub(crate) rate: file::RateLimitFile,
    pub(crate) flow: Flow,
    confirm: HashSet<String>,
    confirm_ttl_ms: u64,
    vdso_ttl_ms: Option<u64>,
    vdso_max_entries: usize,
    page_out_bytes: usize,
    max_result_bytes: usize,
    file: PolicyFile,
}

impl Policy {
    /// Compiles a parsed file. `name` labels errors; relative globs are taken relative to
    /// `base_dir`.
    pub fn compile(file: PolicyFile, name: &str, base_dir: &Path) -> Result<Policy, PolicyError> {
        let rule_err = |path: String, message: &str| PolicyError::Rule {
            file: name.to_string(),
            path,
            message: message.to_string(),
        };
        let mut rules: HashMap<String, Vec<ArgRule>> = HashMap::new();
        for (tool, args) in &file.rules {
            for (arg, rule) in args {
                let selector = if arg == "*" {
                    ArgSelector::Every
                } else {
                    ArgSelector::Named(arg.clone())
                };
                let path = format!("rules.{tool}.{arg}");
                rules
                    .entry(tool.clone())
                    .or_default()
                    .push(ArgRule::compile(base_dir, selector, rule, name, &path)?);
            }
        }
        let limits = file
            .rate_limit
            .per_trace
            .iter()
            .map(|l| ("rate_limit.per_trace".to_string(), l))
            .chain(
                file.rate_limit
                    .global
                    .iter()
                    .map(|l| ("rate_limit.global".to_string(), l)),
            )
            .chain(
                file.rate_limit
                    .per_tool
                    .iter()
                    .map(|(t, l)| (format!("rate_limit.per_tool.{t}"), l)),
            );
        for (path, limit) in limits {
            if limit.calls == 0 || limit.per_s == 0 {
                return Err(rule_err(path, "calls and per_s must both be at least 1"));
            }
        }
        let admission = &file.admission;
        if admission.page_out_bytes == Some(0) {
            return Err(rule_err(
                "admission.page_out_bytes".into(),
                "must be at least 1",
            ));
        }
        if admission.max_result_bytes == Some(0) {
            return Err(rule_err(
                "admission.max_result_bytes".into(),
                "must be at least 1",
            ));
        }
        if file.vdso.max_entries == Some(0) {
            return Err(rule_err("vdso.max_entries".into(), "must be at least 1"));
        }
        Ok(Policy {
            name: name.to_string(),
            origin: None,
            base_dir: base_dir.to_path_buf(),
            allow: file.allow.iter().cloned().collect(),
            allow_prefix: file.allow_prefix.clone(),
            deny: file.deny.clone().into_iter().collect(),
            rules,
            protect: rules::compile_globs(base_dir, &file.protect, name, "protect")?,
            redact: file
                .redact
                .iter()
                .map(|(tool, keys)| (tool.clone(), keys.iter().cloned().collect()))
                .collect(),
            rate: file.rate_limit.clone(),
            flow: Flow::compile(&file.flow),
            confirm: file.require_confirm.iter().cloned().collect(),
            confirm_ttl_ms: file.confirm_ttl_s.unwrap_or(DEFAULT_CONFIRM_TTL_S) * 1000,
            vdso_ttl_ms: file.vdso.ttl_s.map(|s| s * 1000),
            vdso_max_entries: file.vdso.max_entries.unwrap_or(DEFAULT_VDSO_MAX_ENTRIES),
            page_out_bytes: admission.page_out_bytes.unwrap_or(DEFAULT_PAGE_OUT_BYTES),
            max_result_bytes: admission
                .max_result_bytes
                .unwrap_or(DEFAULT_MAX_RESULT_BYTES),
            file,
        })
    }

    /// Parses and compiles policy text.
    pub fn parse(text: &str, name: &str, base_dir: &Path) -> Result<Policy, PolicyError> {
        Policy::compile(PolicyFile::parse(text, name)?, name, base_dir)
    }

    /// Reads, parses and compiles a policy file. The file itself becomes protected.
    pub fn load(path: &Path, base_dir: &Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Io {
            file: name.clone(),
            message: e.to_string(),
        })?;
        let mut policy = Policy::parse(&text, &name, base_dir)?;
        let absolute = paths::normalize_lexical(base_dir, &path.to_string_lossy())
            .unwrap_or_else(|_| path.to_path_buf());
        policy.origin = Some(paths::resolve_existing_prefix(&absolute));
        Ok(policy)
    }

    /// The built-in starter policy.
    pub fn builtin_default(base_dir: &Path) -> Policy {
        Policy::parse(DEFAULT_POLICY_JSON, "built-in default policy", base_dir)
            // The embedded text is fixed at build time and a unit test parses it.
            .expect("the built-in default policy compiles")
    }

    /// `{}`: allows nothing.
    pub fn deny_all(base_dir: &Path) -> Policy {
        Policy::compile(PolicyFile::default(), "{}", base_dir).expect("the empty policy compiles")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the policy was loaded from, resolved, if it came from a file.
    pub fn origin(&self) -> Option<&Path> {
        self.origin.as_deref()
    }

    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    pub fn file(&self) -> &PolicyFile {
        &self.file
    }

    /// The tool-name rung: `deny` first, then `allow` and `allow_prefix`, else None.
    pub fn name_rule(&self, tool: &str) -> NameRule {
        if let Some(code) = self.deny.get(tool) {
            NameRule::Denied(*code)
        } else if self.allow.contains(tool)
            || self
                .allow_prefix
                .iter()
                .any(|p| tool.starts_with(p.as_str()))
        {
            NameRule::Allowed
        } else {
            NameRule::Unlisted
        }
    }

    /// Argument rules for a tool: its own, then the `*` rules.
    pub fn arg_rules(&self, tool: &str) -> impl Iterator<Item = &ArgRule> {
        self.rules
            .get(tool)
            .into_iter()
            .chain(self.rules.get("*"))
            .flatten()
    }

    pub fn protect_globs(&self) -> &GlobSet {
        &self.protect
    }

    /// Keys redacted from this tool's arguments (its own and the `*` entry; a key in both
    /// comes twice).
    pub fn redact_keys(&self, tool: &str) -> impl Iterator<Item = &str> {
        self.redact
            .get(tool)
            .into_iter()
            .chain(self.redact.get("*"))
            .flatten()
            .map(String::as_str)
    }

    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    pub fn requires_confirm(&self, tool: &str) -> bool {
        self.confirm.contains(tool)
    }

    pub fn confirm_ttl_ms(&self) -> u64 {
        self.confirm_ttl_ms
    }

    pub fn vdso_ttl_ms(&self) -> Option<u64> {
        self.vdso_ttl_ms
    }

    pub fn vdso_max_entries(&self) -> usize {
        self.vdso_max_entries
    }

    pub fn page_out_bytes(&self) -> usize {
        self.page_out_bytes
    }

    pub fn max_result_bytes(&self) -> usize {
        self.max_result_bytes
    }

    /// A one-line summary for `fak policy check`.
    pub fn summary(&self) -> String {
        let rules: usize = self.rules.values().map(Vec::len).sum();
        format!(
            "{} allowed, {} allowed prefixes, {} denied, {} argument rules, {} redacted keys, {} confirm-gated, {} untrusted sources",
            self.allow.len(),
            self.allow_prefix.len(),
            self.deny.len(),
            rules,
            self.redact.values().map(BTreeSet::len).sum::<usize>(),
            self.confirm.len(),
            self.file.flow.untrusted_sources.len(),
        )
    }
}

/// What the policy says about a tool's name alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    Allowed,
    Denied(RefusalCode),
    Unlisted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_policy_compiles_and_allows_something() {
        let p = Policy::builtin_default(Path::new("/work"));
        assert_eq!(p.name_rule("read_file"), NameRule::Allowed);
        assert!(matches!(p.name_rule("run_shell"), NameRule::Denied(_)));
    }

    #[test]
    fn bad_glob_is_named_by_path() {
        let err = Policy::parse(
            r#"{"rules": {"fs.read": {"path": {"allow_glob": ["/a/**", "/b/[z"]}}}}"#,
            "p.json",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.json: rules.fs.read.path.allow_glob[1]:"),
            "{err}"
        );
    }

    #[test]
    fn bad_regex_is_named_by_path() {
        let err = Policy::parse(
            r#"{"rules": {"*": {"cmd": {"deny_regex": ["(unclosed"]}}}}"#,
            "p.json",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.json: rules.*.cmd.deny_regex[0]:"),
            "{err}"
        );
    }

    #[test]
    fn zero_rate_limit_is_refused() {
        let err = Policy::parse(
            r#"{"rate_limit": {"per_tool": {"x": {"calls": 0, "per_s": 1}}}}"#,
            "p.json",
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.json: rate_limit.per_tool.x: calls and per_s must both be at least 1"
        );
    }

    #[test]
    fn missing_policy_file_is_an_io_error() {
        let err = Policy::load(Path::new("/nonexistent/policy.json"), Path::new("/")).unwrap_err();
        assert!(matches!(err, PolicyError::Io { .. }), "{err}");
    }

    #[test]
    fn deny_beats_allow_for_the_same_name() {
        let p = Policy::parse(
            r#"{"allow": ["x"], "allow_prefix": ["x"], "deny": {"x": "POLICY_BLOCK"}}"#,
            "p.json",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(p.name_rule("x"), NameRule::Denied(RefusalCode::PolicyBlock));
        assert_eq!(p.name_rule("xy"), NameRule::Allowed);
    }
}
