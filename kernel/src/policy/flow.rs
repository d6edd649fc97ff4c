//! Information flow, compiled: untrusted sources, sinks, authorized pairs, egress hosts.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::file::FlowFile;
use crate::tools::{SinkKind, ToolDescriptor};

#[derive(Clone, Debug, Default)]
pub struct Flow {
    untrusted: HashSet<String>,
    sinks: HashMap<String, BTreeSet<SinkKind>>,
    authorized: HashSet<(String, String)>,
    egress_hosts: Vec<String>,
}

impl Flow {
    pub fn compile(file: &FlowFile) -> Flow {
        let mut sinks: HashMap<String, BTreeSet<SinkKind>> = HashMap::new();
        for (list, kind) in [
            (&file.egress, SinkKind::Egress),
            (&file.destructive, SinkKind::Destructive),
            (&file.exec, SinkKind::Exec),
        ] {
            for tool in list {
                sinks.entry(tool.clone()).or_default().insert(kind);
            }
        }
        Flow {
            untrusted: file.untrusted_sources.iter().cloned().collect(),
            sinks,
            authorized: file
                .authorized
                .iter()
                .map(|p| (p.source.clone(), p.sink.clone()))
                .collect(),
            egress_hosts: file
                .egress_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether results of `tool` taint the trace.
    pub fn is_untrusted_source(&self, tool: &str) -> bool {
        self.untrusted.contains(tool)
    }

    /// The sink kinds of a tool: the policy's lists and the descriptor's own declaration.
    pub fn sinks_of(&self, tool: &str, descriptor: Option<&ToolDescriptor>) -> BTreeSet<SinkKind> {
        let mut kinds = self.sinks.get(tool).cloned().unwrap_or_default();
        if let Some(d) = descriptor {
            kinds.extend(d.sinks.iter().copied());
        }
        kinds
    }

    /// Whether a trace tainted by `source` may still call `sink`.
    pub fn authorizes(&self, source: &str, sink: &str) -> bool {
        self.authorized
            .contains(&(source.to_string(), sink.to_string()))
    }

    /// Whether an egress sink may reach `host` (exact, or `*.suffix` for any subdomain).
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.egress_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(suffix) => host
                    .strip_suffix(suffix)
                    .is_some_and(|head| head.ends_with('.') && head.len() > 1),
                None => *allowed == host,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(hosts: &[&str]) -> Flow {
        Flow::compile(&FlowFile {
            egress_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..FlowFile::default()
        })
    }

    #[test]
    fn wildcard_host_matches_subdomains_only() {
        let f = flow(&["*.example.com", "api.other.org"]);
        assert!(f.host_allowed("a.example.com"));
        assert!(f.host_allowed("A.B.Example.COM."));
        assert!(!f.host_allowed("example.com"));
        assert!(!f.host_allowed("evilexample.com"));
        assert!(f.host_allowed("api.other.org"));
        assert!(!f.host_allowed("other.org"));
    }

    #[test]
    fn no_hosts_listed_allows_no_host() {
        assert!(!flow(&[]).host_allowed("example.com"));
    }
}
