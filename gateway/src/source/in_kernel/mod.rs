//! The in-kernel source: a model directory run by the models crate inside the gateway,
//! behind the same gate as an upstream.
//!
//! A request is read against the checkpoint ([`turn`]): the conversation rendered with the
//! checkpoint's own chat template, tools included, and tokenized. The prompt goes into a
//! fresh session of the one [`KvStore`] every request shares, so a prompt that begins like
//! an earlier one adopts that prefix's full blocks by their content address instead of
//! computing them. Tokens are then sampled one at a time on a blocking thread ([`decode`]),
//! decoded, split into text and Hermes tool calls ([`tool_calls`]) and reported as an OpenAI
//! completion or as chunks ([`reply`]); the gate decides the calls as it decides an
//! upstream's.
//!
//! One request runs the model at a time, in arrival order; the others wait, bounded by the
//! gateway's concurrency limit, which sheds the rest with 503.

mod counters;
mod decode;
mod reply;
mod tool_calls;
mod turn;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvLayout};
use fak_kernel::kv::{BlockPool, KvError, KvStore};
use fak_models::gguf;
use fak_models::{ChatTemplate, Model, ModelConfig, ModelError, StopTokens, Tokenizer};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use self::counters::Counters;
use self::reply::{Chunks, Head, Out};
use self::turn::{Reader, SamplingDefaults, Turn};
use super::{ChunkStream, ModelSource, SourceError, SourceFuture};
use crate::entropy::random_bytes;

/// Full contexts the default KV budget holds: one live conversation and room for the
/// prefixes of others.
pub const DEFAULT_KV_CONTEXTS: usize = 8;
/// The most the default KV budget takes, in MiB.
pub const DEFAULT_KV_BUDGET_CAP_MIB: usize = 512;
/// Reports a generation may run ahead of a slow reader before it waits.
const REPORTS_IN_FLIGHT: usize = 64;
/// What the generator of fak's test models writes into their reference.json.
const TEST_MODEL_GENERATOR: &str = "scripts/make_test_models.py";
/// What clients and the start-up line are told about a test model.
pub const TEST_MODEL_NOTE: &str =
    "TEST MODEL: tiny random weights generated for fak's tests; its text is gibberish";

/// What to serve.
#[derive(Clone, Debug)]
pub struct InKernelOptions {
    /// The model directory (config.json, safetensors, tokenizer.json, tokenizer_config.json
    /// with a chat template, generation_config.json).
    pub dir: PathBuf,
    /// The model name clients use (default: the directory's name).
    pub name: Option<String>,
    /// Positions one conversation may hold (default: the model's own context).
    pub context: Option<usize>,
    /// Bytes of K and V the block pool holds, allocated whole at start-up (default:
    /// [`DEFAULT_KV_CONTEXTS`] full contexts, at most [`DEFAULT_KV_BUDGET_CAP_MIB`] MiB).
    pub kv_budget_bytes: Option<usize>,
}

/// Why a model directory cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum InKernelError {
    #[error("no model in {dir}: {why}")]
    NoModel { dir: PathBuf, why: String },
    #[error("the model in {dir} cannot be served: {source}")]
    Model { dir: PathBuf, source: ModelError },
    #[error("the KV cache of the model in {dir}: {source}")]
    Kv { dir: PathBuf, source: KvError },
    #[error(
        "a KV budget of {budget_bytes} bytes holds {blocks} blocks of {KV_BLOCK_TOKENS} \
         tokens; one conversation of the full context ({context} tokens) needs {needed}: \
         raise the KV budget or lower the context"
    )]
    BudgetTooSmall {
        budget_bytes: usize,
        blocks: usize,
        context: usize,
        needed: usize,
    },
}

/// The loaded model and everything a request is read and answered with.
#[derive(Debug)]
struct Engine<B: Backend> {
    name: String,
    store: KvStore<B>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop: StopTokens,
    defaults: SamplingDefaults,
    /// Ids the tokenizer can write (added tokens included).
    vocab: usize,
    counters: Counters,
}

impl<B: Backend> Engine<B> {
    /// The turn `request` asks for, and the envelope of its answer.
    fn read(&self, request: &Value) -> Result<(Turn, Head), SourceError> {
        let turn = Reader {
            model: &self.name,
            template: &self.template,
            tokenizer: &self.tokenizer,
            context: self.store.model().context(),
            defaults: self.defaults,
        }
        .read(request)?;
        let head = Head {
            id: format!("chatcmpl-{}", hex::encode(random_bytes::<12>())),
            created: unix_seconds(),
            model: self.name.clone(),
            include_usage: turn.include_usage,
        };
        Ok((turn, head))
    }
}

/// A model directory served in the gateway's process.
#[derive(Debug)]
pub struct InKernelSource<B: Backend> {
    engine: Arc<Engine<B>>,
    /// One permit: the model answers one request at a time, first come first served.
    turn: Arc<Semaphore>,
    /// The `/v1/models` entry.
    listing: Value,
    description: String,
}

impl<B: Backend> InKernelSource<B> {
    /// Loads the model in `options.dir` on `backend`, with its tokenizer, chat template,
    /// stop tokens and sampling defaults, and a KV block pool of `options.kv_budget_bytes`.
    /// Everything a request needs is checked here, so a bad directory stops start-up.
    pub fn open(backend: Arc<B>, options: &InKernelOptions) -> Result<Self, InKernelError> {
        let dir = &options.dir;
        if !dir.join("config.json").is_file() && !gguf::is_gguf(dir) {
            return Err(InKernelError::NoModel {
                dir: dir.clone(),
                why: "it is neither a model directory with a config.json nor a GGUF file".into(),
            });
        }
        let model_error = |source| InKernelError::Model {
            dir: dir.clone(),
            source,
        };
        let config = ModelConfig::from_dir(dir).map_err(model_error)?;
        let context = options.context.unwrap_or(config.context());
        let model = Arc::new(Model::load(backend, dir, Some(context)).map_err(model_error)?);
        let tokenizer = Tokenizer::from_dir(dir).map_err(model_error)?;
        let template = ChatTemplate::from_dir(dir).map_err(model_error)?;
        let stop = StopTokens::from_dir(dir).map_err(model_error)?;
        let defaults = SamplingDefaults::from_dir(dir).map_err(|why| InKernelError::NoModel {
            dir: dir.clone(),
            why,
        })?;
        // One conversation at a time, plus its tail block copied on write.
        let needed = context.div_ceil(KV_BLOCK_TOKENS) + 1;
        let block_bytes = BlockPool::<B>::block_bytes(
            config.num_layers,
            KvLayout {
                blocks: 1,
                n_kv_heads: config.num_kv_heads,
                head_dim: config.head_dim,
            },
        );
        let budget_bytes = options.kv_budget_bytes.unwrap_or_else(|| {
            (DEFAULT_KV_CONTEXTS * needed * block_bytes).min(DEFAULT_KV_BUDGET_CAP_MIB << 20)
        });
        let blocks = budget_bytes / block_bytes;
        if blocks < needed {
            return Err(InKernelError::BudgetTooSmall {
                budget_bytes,
                blocks,
                context,
                needed,
            });
        }
        let store =
            KvStore::new(Arc::clone(&model), blocks).map_err(|source| InKernelError::Kv {
                dir: dir.clone(),
                source,
            })?;
        let name = options.name.clone().unwrap_or_else(|| directory_name(dir));
        let test_model = is_test_model(dir);
        let backend = model.backend().device().backend;
        let architecture = config.architecture.class_name();
        let listing = json!({
            "id": name,
            "object": "model",
            "created": unix_seconds(),
            "owned_by": "fak",
            "fak": {
                "mode": "in-kernel",
                "architecture": architecture,
                "backend": backend.to_string(),
                "context_tokens": context,
                "kv_cache_blocks": blocks,
                "test_model": test_model,
                "note": test_model.then_some(TEST_MODEL_NOTE),
            },
        });
        let mut description = format!(
            "in-kernel model {name} from {} ({architecture} on {backend}, context {context} tokens)",
            dir.display()
        );
        if test_model {
            description.push_str(&format!("; {TEST_MODEL_NOTE}"));
        }
        let vocab = tokenizer.vocab_size();
        Ok(InKernelSource {
            engine: Arc::new(Engine {
                name,
                store,
                tokenizer,
                template,
                stop,
                defaults,
                vocab,
                counters: Counters::new(),
            }),
            turn: Arc::new(Semaphore::new(1)),
            listing,
            description,
        })
    }

    /// The name clients must use.
    pub fn name(&self) -> &str {
        &self.engine.name
    }

    /// Reads the request, waits for the model, and starts the answer on a blocking
    /// thread; its reports arrive on the returned receiver. Dropping the receiver stops
    /// the generation.
    async fn start(&self, request: Value) -> Result<(Head, mpsc::Receiver<Out>), SourceError> {
        let engine = Arc::clone(&self.engine);
        // Rendering and tokenizing a long transcript is CPU work: off the async workers.
        let (turn, head) = tokio::task::spawn_blocking(move || engine.read(&request))
            .await
            .map_err(|e| SourceError::Engine(format!("reading the request failed: {e}")))??;
        let permit = Arc::clone(&self.turn)
            .acquire_owned()
            .await
            .map_err(|_| SourceError::Engine("the model is shut down".into()))?;
        let (reports, receiver) = mpsc::channel(REPORTS_IN_FLIGHT);
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            engine.answer(&turn, &reports);
        });
        Ok((head, receiver))
    }
}

impl<B: Backend> ModelSource for InKernelSource<B> {
    fn complete(&self, request: Value) -> SourceFuture<'_, Value> {
        Box::pin(async move {
            let (head, mut receiver) = self.start(request).await?;
            let mut outs = Vec::new();
            while let Some(out) = receiver.recv().await {
                outs.push(out);
            }
            head.completion(outs)
        })
    }

    fn stream(&self, request: Value) -> SourceFuture<'_, ChunkStream> {
        Box::pin(async move {
            let (head, receiver) = self.start(request).await?;
            let mut chunks = Chunks::new(head);
            let reports = stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|out| (out, receiver))
            });
            let chunks = reports.flat_map(move |out| stream::iter(chunks.render(out)));
            Ok(Box::pin(chunks) as ChunkStream)
        })
    }

    fn models(&self) -> SourceFuture<'_, Value> {
        Box::pin(async move { Ok(json!({"object": "list", "data": [self.listing]})) })
    }

    /// The model is loaded before the gateway listens, so it is always ready.
    fn ready(&self) -> SourceFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        self.engine.counters.collectors()
    }
}

/// The last component of `dir` (resolved, so `.` names the directory it is).
fn directory_name(dir: &Path) -> String {
    let resolved = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    // A GGUF file is named without its extension.
    let name = if resolved.is_file() {
        resolved.file_stem()
    } else {
        resolved.file_name()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string())
}

/// Whether `dir` is one of fak's generated test models (data/fixtures/models): their
/// reference.json names the script that made them.
fn is_test_model(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("reference.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|r| {
            r.pointer("/generator/script").and_then(Value::as_str) == Some(TEST_MODEL_GENERATOR)
        })
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
