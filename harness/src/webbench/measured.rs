//! The turn-tax geometry from data: per-turn sizes from recorded trajectories, tokenized
//! with a real tokenizer; a base prefix shared across different tasks; replies charged as
//! decode; an attention FLOP term. Every assumption it rests on is in its report.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tokenizers::Tokenizer;

use super::WebbenchError;
use super::report::{ContextCurve, FleetRow, Geometry, PerPolicy, Report};
use super::tasks::Task;
use super::trajectory::{Trajectory, clip_window};

/// The model shape that prices attention: FLOPs per (query, key) pair per layer are
/// 4 · heads · head_dim (a dot product for the score, a multiply-add into the output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionShape {
    pub layers: u64,
    pub heads: u64,
    pub head_dim: u64,
    /// Where the shape was read from.
    pub source: String,
}

#[derive(Deserialize)]
struct ModelConfig {
    num_hidden_layers: u64,
    num_attention_heads: u64,
    head_dim: Option<u64>,
    hidden_size: Option<u64>,
}

impl AttentionShape {
    /// Reads `num_hidden_layers`, `num_attention_heads` and `head_dim` (or hidden_size /
    /// heads) from a Hugging Face config.json.
    pub fn from_config(path: &Path) -> Result<Self, WebbenchError> {
        let file = path.display().to_string();
        let bad = |problem: String| WebbenchError::Config {
            file: file.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|source| WebbenchError::Read {
            file: file.clone(),
            source,
        })?;
        let config: ModelConfig = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if config.num_hidden_layers == 0 || config.num_attention_heads == 0 {
            return Err(bad(
                "num_hidden_layers and num_attention_heads must be > 0".into()
            ));
        }
        let head_dim = match (config.head_dim, config.hidden_size) {
            (Some(d), _) if d > 0 => d,
            (None, Some(h)) if h > 0 && h % config.num_attention_heads == 0 => {
                h / config.num_attention_heads
            }
            _ => {
                return Err(bad(
                    "needs head_dim, or hidden_size divisible by num_attention_heads".into(),
                ));
            }
        };
        Ok(AttentionShape {
            layers: config.num_hidden_layers,
            heads: config.num_attention_heads,
            head_dim,
            source: file,
        })
    }

    fn flops_per_pair(&self) -> f64 {
        (4 * self.layers * self.heads * self.head_dim) as f64
    }
}

/// Counts tokens with a loaded tokenizer, without special tokens or a chat template.
#[derive(Debug)]
pub struct TokenCounter {
    tokenizer: Tokenizer,
    /// Where it was loaded from, for the report.
    pub source: String,
}

impl TokenCounter {
    pub fn load(path: &Path) -> Result<Self, WebbenchError> {
        let tokenizer = Tokenizer::from_file(path).map_err(|e| WebbenchError::Tokenizer {
            file: path.display().to_string(),
            problem: e.to_string(),
        })?;
        Ok(TokenCounter {
            tokenizer,
            source: path.display().to_string(),
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    fn ids(&self, text: &str) -> Result<Vec<u32>, WebbenchError> {
        let encoding =
            self.tokenizer
                .encode(text, false)
                .map_err(|e| WebbenchError::Tokenizer {
                    file: self.source.clone(),
                    problem: e.to_string(),
                })?;
        Ok(encoding.get_ids().to_vec())
    }

    fn count(&self, text: &str) -> Result<u128, WebbenchError> {
        Ok(self.ids(text)?.len() as u128)
    }
}

/// One turn in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TurnTokens {
    /// The observation as the agent saw it on its own turn (estimated when clipped).
    whole: u128,
    /// The observation after the agent clipped it (equal to `whole` if never clipped).
    stub: u128,
    /// The reply, decoded.
    reply: u128,
}

/// A span of an agent's context; two contexts share KV up to their first differing span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    System,
    Observation { turn: usize, clipped: bool },
    Reply { turn: usize },
}

/// One agent's costs over one task under private KV, plus what naive re-prefill costs.
#[derive(Debug, Clone, Default, PartialEq)]
struct AgentCost {
    naive_tokens: u128,
    naive_pairs: u128,
    private_tokens: u128,
    private_pairs: u128,
    /// Tokens (and pairs) of the first turn's prefill: what agents of one task share.
    first_turn_tokens: u128,
    first_turn_pairs: u128,
    decode_tokens: u128,
    decode_pairs: u128,
    /// Context length at each turn, and cumulative prefill per policy after it.
    context: Vec<u128>,
    naive_cumulative: Vec<u128>,
    private_cumulative: Vec<u128>,
}

/// Causal (query, key) pairs when positions `from..to` attend to every earlier position
/// and themselves: the sum of p + 1 over the range.
fn causal_pairs(from: u128, to: u128) -> u128 {
    (to * (to + 1) - from * (from + 1)) / 2
}

/// Everything `describe` needs besides the data.
#[derive(Debug)]
pub struct MeasuredInputs<'a> {
    pub tasks: &'a [Task],
    pub trajectories: &'a [Trajectory],
    pub tokens: &'a TokenCounter,
    pub shape: &'a AttentionShape,
    pub workers: &'a [u64],
}

/// The measured report.
pub fn describe(inputs: &MeasuredInputs<'_>) -> Result<Report, WebbenchError> {
    let max_workers = super::check_workers(inputs.workers)?;
    if inputs.trajectories.is_empty() {
        return Err(WebbenchError::NoTrajectories("(none given)".to_string()));
    }
    // Recordings name their files with the task id's spaces as underscores
    // ("BBC_News--9" for "BBC News--9").
    let sites: BTreeMap<String, &str> = inputs
        .tasks
        .iter()
        .map(|t| (t.id.replace(' ', "_"), t.web_name.as_str()))
        .collect();
    for t in inputs.trajectories {
        if !sites.contains_key(t.task_id.as_str()) {
            return Err(WebbenchError::UnknownTask(t.task_id.clone()));
        }
    }
    let window = clip_window(inputs.trajectories)?;
    let system_ids = inputs
        .trajectories
        .iter()
        .map(|t| inputs.tokens.ids(&t.system))
        .collect::<Result<Vec<_>, _>>()?;
    let base = common_prefix_len(&system_ids);
    let mut costs = Vec::with_capacity(inputs.trajectories.len());
    for (t, system) in inputs.trajectories.iter().zip(&system_ids) {
        let turns = turn_tokens(t, inputs.tokens)?;
        costs.push(agent_cost(system.len() as u128, &turns, window));
    }
    let flops = inputs.shape.flops_per_pair();
    let base_pairs = causal_pairs(0, base);
    let fleet = inputs
        .workers
        .iter()
        .map(|&w| {
            let wide = w as u128;
            let naive: u128 = costs.iter().map(|c| wide * c.naive_tokens).sum();
            let private: u128 = costs.iter().map(|c| wide * c.private_tokens).sum();
            // The base prefix once for the fleet; each task's first turn once for its
            // agents; the rest per agent.
            let shared = base
                + costs
                    .iter()
                    .map(|c| {
                        (c.first_turn_tokens - base)
                            + wide * (c.private_tokens - c.first_turn_tokens)
                    })
                    .sum::<u128>();
            let naive_pairs: u128 = costs.iter().map(|c| wide * c.naive_pairs).sum();
            let private_pairs: u128 = costs.iter().map(|c| wide * c.private_pairs).sum();
            let shared_pairs = base_pairs
                + costs
                    .iter()
                    .map(|c| {
                        (c.first_turn_pairs - base_pairs)
                            + wide * (c.private_pairs - c.first_turn_pairs)
                    })
                    .sum::<u128>();
            let tokens = [naive, private, shared];
            let pairs = [naive_pairs, private_pairs, shared_pairs];
            FleetRow {
                workers: w,
                prefill_tokens: PerPolicy(tokens),
                prefill_attention_flops: Some(PerPolicy(pairs.map(|p| p as f64 * flops))),
                decode_tokens: Some(costs.iter().map(|c| wide * c.decode_tokens).sum()),
                decode_attention_flops: Some(
                    costs.iter().map(|c| wide * c.decode_pairs).sum::<u128>() as f64 * flops,
                ),
            }
        })
        .collect();
    let context = context_curve(inputs, &costs, &sites, max_workers);
    Ok(Report {
        geometry: Geometry::Measured,
        task_count: inputs.trajectories.len(),
        fleet,
        context,
        basis: format!(
            "tokens from {} (vocabulary {}); attention priced for {} layers x {} heads x {} dims ({})",
            inputs.tokens.source,
            inputs.tokens.vocab_size(),
            inputs.shape.layers,
            inputs.shape.heads,
            inputs.shape.head_dim,
            inputs.shape.source
        ),
        assumptions: assumptions(inputs, base, window),
    })
}

fn common_prefix_len(sequences: &[Vec<u32>]) -> u128 {
    let Some((first, rest)) = sequences.split_first() else {
        return 0;
    };
    let len = rest.iter().fold(first.len(), |len, other| {
        first[..len]
            .iter()
            .zip(other)
            .take_while(|(a, b)| a == b)
            .count()
    });
    len as u128
}

/// Tokens per turn. A clipped observation's own-turn size is lost; it is estimated as its
/// header (the task statement, if any) plus the mean whole observation of the same run.
fn turn_tokens(t: &Trajectory, tokens: &TokenCounter) -> Result<Vec<TurnTokens>, WebbenchError> {
    let mut whole_sizes = Vec::new();
    for turn in &t.turns {
        let o = &turn.observation;
        if !o.clipped && o.header.is_empty() {
            whole_sizes.push(tokens.count(&o.text)?);
        }
    }
    let mean_whole = (!whole_sizes.is_empty())
        .then(|| whole_sizes.iter().sum::<u128>() / whole_sizes.len() as u128);
    t.turns
        .iter()
        .map(|turn| {
            let o = &turn.observation;
            let recorded = tokens.count(&o.text)?;
            let whole = if o.clipped {
                let mean = mean_whole.ok_or_else(|| WebbenchError::ClipRule(format!(
                    "task {}: clipped observations but no whole one to estimate their size from",
                    t.task_id
                )))?;
                tokens.count(&o.header)? + mean
            } else {
                recorded
            };
            Ok(TurnTokens {
                whole,
                stub: recorded,
                reply: tokens.count(&turn.reply)?,
            })
        })
        .collect()
}

/// The context at turn `k` (0-based) as spans with their lengths: the system prompt, every
/// earlier observation (clipped once `window` newer ones exist) and reply, then this
/// turn's observation whole.
fn context_at(
    system: u128,
    turns: &[TurnTokens],
    k: usize,
    window: Option<usize>,
) -> Vec<(Span, u128)> {
    let mut spans = vec![(Span::System, system)];
    for (j, turn) in turns[..k].iter().enumerate() {
        let clipped = window.is_some_and(|w| j + w <= k);
        let len = if clipped { turn.stub } else { turn.whole };
        spans.push((Span::Observation { turn: j, clipped }, len));
        spans.push((Span::Reply { turn: j }, turn.reply));
    }
    spans.push((
        Span::Observation {
            turn: k,
            clipped: false,
        },
        turns[k].whole,
    ));
    spans
}

fn agent_cost(system: u128, turns: &[TurnTokens], window: Option<usize>) -> AgentCost {
    let mut cost = AgentCost::default();
    // Spans whose KV the agent holds: the last context plus the reply decoded after it.
    let mut cached: Vec<(Span, u128)> = Vec::new();
    for k in 0..turns.len() {
        let context = context_at(system, turns, k, window);
        let length: u128 = context.iter().map(|(_, len)| len).sum();
        let reused: u128 = context
            .iter()
            .zip(&cached)
            .take_while(|(a, b)| a == b)
            .map(|((_, len), _)| len)
            .sum();
        cost.naive_tokens += length;
        cost.naive_pairs += causal_pairs(0, length);
        cost.private_tokens += length - reused;
        cost.private_pairs += causal_pairs(reused, length);
        if k == 0 {
            cost.first_turn_tokens = length;
            cost.first_turn_pairs = causal_pairs(0, length);
        }
        let reply = turns[k].reply;
        cost.decode_tokens += reply;
        cost.decode_pairs += causal_pairs(length, length + reply);
        cost.context.push(length);
        cost.naive_cumulative.push(cost.naive_tokens);
        cost.private_cumulative.push(cost.private_tokens);
        cached = context;
        cached.push((Span::Reply { turn: k }, reply));
    }
    cost
}

/// The curve of the longest recorded run (the first by id among equals), for the largest
/// fleet: one task, so its shared prefix is its whole first turn.
fn context_curve(
    inputs: &MeasuredInputs<'_>,
    costs: &[AgentCost],
    sites: &BTreeMap<String, &str>,
    workers: u64,
) -> ContextCurve {
    let (index, longest) = inputs
        .trajectories
        .iter()
        .enumerate()
        .max_by_key(|(i, t)| (t.turns.len(), std::cmp::Reverse(*i)))
        .expect("describe refuses an empty trajectory set");
    let cost = &costs[index];
    let w = workers as u128;
    let shared = cost
        .private_cumulative
        .iter()
        .map(|&c| cost.first_turn_tokens + w * (c - cost.first_turn_tokens))
        .collect();
    ContextCurve {
        shape: format!(
            "recorded task {} ({}), {} turns",
            longest.task_id,
            sites.get(longest.task_id.as_str()).copied().unwrap_or("?"),
            longest.turns.len()
        ),
        workers,
        x_label: "turn",
        x_unit: "turns",
        x: (1..=longest.turns.len() as u128).collect(),
        cumulative_prefill: PerPolicy([
            cost.naive_cumulative.iter().map(|&c| w * c).collect(),
            cost.private_cumulative.iter().map(|&c| w * c).collect(),
            shared,
        ]),
    }
}

fn assumptions(inputs: &MeasuredInputs<'_>, base: u128, window: Option<usize>) -> Vec<String> {
    let s = inputs.shape;
    let mut lines = vec![
        format!(
            "tokens counted with {} (vocabulary {}), each message alone, no chat template or special tokens",
            inputs.tokens.source,
            inputs.tokens.vocab_size()
        ),
        "screenshots were removed from the recordings: image tokens are not counted".to_string(),
        format!(
            "base prefix = the longest token prefix common to every system prompt ({base} tokens): under shared prefix it is prefilled once for the whole fleet"
        ),
        "under shared prefix the agents of one task also share its first turn (system prompt and task statement with the first observation)".to_string(),
        "replies are decoded, charged as decode; their KV is kept under private KV and shared prefix, naive re-prefill prefills them again on every later turn".to_string(),
        format!(
            "attention FLOPs = 4 · layers · heads · head_dim per causal (query, key) pair = 4 · {} · {} · {} (from {})",
            s.layers, s.heads, s.head_dim, s.source
        ),
        format!(
            "totals cover the {} recorded tasks, each run by w agents, not the whole task file",
            inputs.trajectories.len()
        ),
    ];
    if let Some(w) = window {
        lines.push(format!(
            "the agent keeps its {w} newest observations whole and clips older ones to a stub; a clipped observation's own-turn size is lost and estimated as its task statement plus the mean whole observation of its run; a clip changes the middle of the context, so every token after it is prefilled again"
        ));
    }
    lines
}
