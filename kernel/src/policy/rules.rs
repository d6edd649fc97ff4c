//! Argument rules, compiled: globs for path arguments, deny regexes, size bounds.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde_json::Value;

use super::PolicyError;
use super::file::ArgRuleFile;
use super::paths;
use crate::canonical::canonical_json;
use crate::refusal::{Refusal, RefusalCode};

/// Which arguments a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgSelector {
    Named(String),
    /// `*`: every top-level argument.
    Every,
}

/// One compiled argument rule.
#[derive(Clone, Debug)]
pub struct ArgRule {
    pub selector: ArgSelector,
    allow_glob: Option<GlobSet>,
    deny_regex: Vec<Regex>,
    max_bytes: Option<u64>,
}

/// Builds a glob matcher where `*` stays inside one path component and `**` crosses them.
/// Relative globs are taken relative to `base`.
pub fn compile_globs(
    base: &Path,
    globs: &[String],
    source: &str,
    path: &str,
) -> Result<GlobSet, PolicyError> {
    let mut set = GlobSetBuilder::new();
    for (i, glob) in globs.iter().enumerate() {
        let pattern = if Path::new(glob).is_absolute() {
            glob.clone()
        } else {
            base.join(glob.trim_start_matches("./"))
                .to_string_lossy()
                .into_owned()
        };
        let compiled = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| PolicyError::Rule {
                file: source.to_string(),
                path: format!("{path}[{i}]"),
                message: e.kind().to_string(),
            })?;
        set.add(compiled);
    }
    set.build().map_err(|e| PolicyError::Rule {
        file: source.to_string(),
        path: path.to_string(),
        message: e.to_string(),
    })
}

impl ArgRule {
    pub fn compile(
        base: &Path,
        selector: ArgSelector,
        file: &ArgRuleFile,
        source: &str,
        path: &str,
    ) -> Result<ArgRule, PolicyError> {
        let allow_glob = file
            .allow_glob
            .as_ref()
            .map(|globs| compile_globs(base, globs, source, &format!("{path}.allow_glob")))
            .transpose()?;
        let deny_regex = file
            .deny_regex
            .iter()
            .enumerate()
            .map(|(i, re)| {
                Regex::new(re).map_err(|e| PolicyError::Rule {
                    file: source.to_string(),
                    path: format!("{path}.deny_regex[{i}]"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ArgRule {
            selector,
            allow_glob,
            deny_regex,
            max_bytes: file.max_bytes,
        })
    }

    /// Checks every argument this rule selects; returns the refusals, empty if it passes.
    pub fn check(&self, args: &Value, base: &Path) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        match (&self.selector, args) {
            (ArgSelector::Named(name), Value::Object(map)) => {
                if let Some(value) = map.get(name) {
                    self.check_one(name, value, base, &mut refusals);
                }
            }
            (ArgSelector::Every, Value::Object(map)) => {
                for (name, value) in map {
                    self.check_one(name, value, base, &mut refusals);
                }
            }
            // Repair hands decide an object; anything else is checked as a whole.
            (_, other) => self.check_one("*", other, base, &mut refusals),
        }
        refusals
    }

    fn check_one(&self, name: &str, value: &Value, base: &Path, out: &mut Vec<Refusal>) {
        let text = match value {
            Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
            other => std::borrow::Cow::Owned(canonical_json(other)),
        };
        if let Some(bound) = self.max_bytes {
            let len = text.len() as u64;
            if len > bound {
                out.push(Refusal::new(
                    RefusalCode::Oversize,
                    format!("argument \"{name}\" is {len} bytes, bound {bound} bytes"),
                ));
            }
        }
        for (i, re) in self.deny_regex.iter().enumerate() {
            if re.is_match(&text) {
                out.push(Refusal::new(
                    RefusalCode::PolicyBlock,
                    format!("argument \"{name}\" matches deny_regex[{i}]"),
                ));
            }
        }
        if let Some(globs) = &self.allow_glob {
            let Value::String(raw) = value else {
                out.push(Refusal::new(
                    RefusalCode::PolicyBlock,
                    format!("argument \"{name}\" must be a path string"),
                ));
                return;
            };
            match paths::resolve(base, raw) {
                Err(e) => out.push(Refusal::new(
                    RefusalCode::PolicyBlock,
                    format!("argument \"{name}\" {e}"),
                )),
                Ok(resolved) if !globs.is_match(&resolved) => out.push(Refusal::new(
                    RefusalCode::PolicyBlock,
                    format!("argument \"{name}\" is outside every allow_glob"),
                )),
                Ok(_) => {}
            }
        }
    }
}
