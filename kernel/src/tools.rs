//! Tools as the kernel sees them: descriptors, calls, and the registry that dispatches.
//!
//! A descriptor is what a tool declares about itself (its argument schema, whether it is
//! read-only and idempotent, which kinds of sink it is). The policy can add sink kinds but
//! never remove them: a tool is a sink if either says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of effect that a tainted trace may not reach without authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// Sends data out of the machine (HTTP, e-mail, messaging).
    Egress,
    /// Destroys or irreversibly changes state (delete, overwrite, pay).
    Destructive,
    /// Runs code or commands.
    Exec,
}

impl SinkKind {
    /// The name used in policies and refusals: `egress`, `destructive`, `exec`.
    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Egress => "egress",
            SinkKind::Destructive => "destructive",
            SinkKind::Exec => "exec",
        }
    }
}

/// What a tool declares about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDescriptor {
    pub name: String,
    /// JSON Schema of the arguments object (`type`, `properties`, `required`,
    /// `additionalProperties`, `enum` are read by the repair ladder).
    pub schema: Value,
    /// Reads only: never changes the world. Only read-only, idempotent tools may be
    /// answered by the vDSO; a call to any other tool advances the world epoch.
    #[serde(default)]
    pub read_only: bool,
    /// The same arguments give the same result while the world is unchanged.
    #[serde(default)]
    pub idempotent: bool,
    #[serde(default)]
    pub sinks: BTreeSet<SinkKind>,
    /// Other names models use for a parameter: alias -> parameter.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
}

impl ToolDescriptor {
    /// A tool that is neither read-only nor idempotent and is no sink, until told otherwise.
    pub fn new(name: impl Into<String>, schema: Value) -> ToolDescriptor {
        ToolDescriptor {
            name: name.into(),
            schema,
            read_only: false,
            idempotent: false,
            sinks: BTreeSet::new(),
            aliases: BTreeMap::new(),
        }
    }

    /// Marks the tool read-only and idempotent (a pure lookup).
    pub fn pure_read(mut self) -> ToolDescriptor {
        self.read_only = true;
        self.idempotent = true;
        self
    }

    pub fn with_sink(mut self, sink: SinkKind) -> ToolDescriptor {
        self.sinks.insert(sink);
        self
    }

    pub fn with_alias(
        mut self,
        alias: impl Into<String>,
        param: impl Into<String>,
    ) -> ToolDescriptor {
        self.aliases.insert(alias.into(), param.into());
        self
    }
}

/// A call after repair: a tool name and an arguments object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub tool: String,
    pub args: Value,
}

impl ToolCall {
    pub fn new(tool: impl Into<String>, args: Value) -> ToolCall {
        ToolCall {
            tool: tool.into(),
            args,
        }
    }
}

/// Arguments as a model produced them: text that should be JSON, or a parsed value.
#[derive(Clone, Debug, PartialEq)]
pub enum RawArgs {
    Text(String),
    Json(Value),
}

/// A call as a model proposed it, before repair.
#[derive(Clone, Debug, PartialEq)]
pub struct RawCall {
    pub tool: String,
    pub args: RawArgs,
}

impl RawCall {
    pub fn text(tool: impl Into<String>, args: impl Into<String>) -> RawCall {
        RawCall {
            tool: tool.into(),
            args: RawArgs::Text(args.into()),
        }
    }

    pub fn json(tool: impl Into<String>, args: Value) -> RawCall {
        RawCall {
            tool: tool.into(),
            args: RawArgs::Json(args),
        }
    }
}

/// A tool's own failure. Its message is model-visible text and is screened like a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

/// Where tools live. The kernel asks it for descriptors and hands it allowed calls.
pub trait ToolRegistry: Send + Sync {
    fn descriptor(&self, name: &str) -> Option<&ToolDescriptor>;
    /// Runs an allowed, repaired, transformed call and returns the result text.
    fn dispatch(&self, call: &ToolCall) -> Result<String, ToolError>;
}

type Handler = Box<dyn Fn(&Value) -> Result<String, ToolError> + Send + Sync>;

/// A registry of in-process tools, each a descriptor and a closure.
#[derive(Default)]
pub struct InMemoryRegistry {
    tools: BTreeMap<String, (ToolDescriptor, Handler)>,
}

impl fmt::Debug for InMemoryRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryRegistry")
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl InMemoryRegistry {
    pub fn new() -> InMemoryRegistry {
        InMemoryRegistry::default()
    }

    /// Adds (or replaces) a tool.
    pub fn register(
        &mut self,
        descriptor: ToolDescriptor,
        handler: impl Fn(&Value) -> Result<String, ToolError> + Send + Sync + 'static,
    ) -> &mut InMemoryRegistry {
        self.tools
            .insert(descriptor.name.clone(), (descriptor, Box::new(handler)));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }
}

impl ToolRegistry for InMemoryRegistry {
    fn descriptor(&self, name: &str) -> Option<&ToolDescriptor> {
        self.tools.get(name).map(|(d, _)| d)
    }

    fn dispatch(&self, call: &ToolCall) -> Result<String, ToolError> {
        match self.tools.get(&call.tool) {
            Some((_, handler)) => handler(&call.args),
            None => Err(ToolError(format!("no tool named {:?}", call.tool))),
        }
    }
}
