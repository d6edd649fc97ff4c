//! The turn-tax geometry run live: a fleet of agents over one prefix, paying for context in
//! the three ways of [`Policy`], on the in-kernel model and the kernel's KV store.
//!
//! The shape is the geometry's: turn 1 prefills the prefix P; each later turn adds `h`
//! tokens of history. naive prefills the whole context every turn (a private cache built
//! and thrown away); private KV keeps one store per agent; shared prefix prefills P once in
//! one store and forks it to every agent. Prefill work is counted from what the forward
//! pass computed (the sessions' own counts), so it can be set beside the geometry's
//! prediction; and every agent's final logits must be the same bits in all three policies.

use std::sync::Arc;
use std::time::Instant;

use fak_backends::{Backend, KV_BLOCK_TOKENS};
use fak_kernel::kv::{KvError, KvStore, Session, SpanKind, SpanMeta, SpanTrust};
use fak_models::{Activations, Logits, Model, ModelError, SequenceKv};
use thiserror::Error;

use crate::webbench::compat::Shape;
use crate::webbench::policy::Policy;

#[derive(Debug, Error)]
pub enum FleetError {
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the fleet needs {needed} positions per agent; the model was loaded for {context}")]
    Context { needed: usize, context: usize },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error(
        "agent {agent}'s final logits differ between {a} and {b}: the policies did not \
         compute the same thing"
    )]
    Diverged {
        agent: usize,
        a: &'static str,
        b: &'static str,
    },
}

/// Prefix P, turns T and history tokens per turn h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetShape {
    pub prefix: usize,
    pub turns: usize,
    pub history: usize,
}

impl FleetShape {
    /// Positions one agent holds at the end: P + h(T - 1).
    pub fn context(&self) -> usize {
        self.prefix + self.history * (self.turns - 1)
    }

    /// Prefill tokens the geometry predicts for `agents` agents under `policy`.
    pub fn predicted(&self, policy: Policy, agents: usize) -> u128 {
        let shape = Shape {
            prefix: self.prefix as u64,
            turns: self.turns as u64,
        };
        shape.prefill_with_history(agents as u64, policy, self.history as u64)
    }

    fn check(&self, context: usize) -> Result<(), FleetError> {
        for (name, v) in [("prefix", self.prefix), ("turns", self.turns)] {
            if v == 0 {
                return Err(FleetError::Zero(name));
            }
        }
        if self.context() > context {
            return Err(FleetError::Context {
                needed: self.context(),
                context,
            });
        }
        Ok(())
    }
}

/// One policy at one fleet size.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmRun {
    pub policy: Policy,
    pub agents: usize,
    /// Positions the forward pass computed.
    pub computed: u64,
    pub predicted: u128,
    pub seconds: f64,
}

/// The three policies for `agents` agents, in [`Policy::ALL`] order, after checking that
/// each agent ends with the same logits in every policy.
pub fn run_fleet<B: Backend>(
    model: &Arc<Model<B>>,
    shape: FleetShape,
    agents: usize,
) -> Result<Vec<ArmRun>, FleetError> {
    shape.check(model.context())?;
    if agents == 0 {
        return Err(FleetError::Zero("agents"));
    }
    let prefix = ids(0, shape.prefix);
    // Each agent's turns differ from every other agent's, so nothing is shared by chance.
    let turns: Vec<Vec<Vec<u32>>> = (0..agents)
        .map(|a| {
            (1..shape.turns)
                .map(|t| ids((1 + a * shape.turns + t) as u32, shape.history))
                .collect()
        })
        .collect();
    let mut runs = Vec::new();
    let mut finals: Vec<(&'static str, Vec<Vec<u32>>)> = Vec::new();
    for policy in Policy::ALL {
        let started = Instant::now();
        let (computed, logits) = match policy {
            Policy::Naive => naive(model, &prefix, &turns)?,
            Policy::PrivateKv => private(model, &prefix, &turns)?,
            Policy::SharedPrefix => shared(model, &prefix, &turns)?,
        };
        runs.push(ArmRun {
            policy,
            agents,
            computed,
            predicted: shape.predicted(policy, agents),
            seconds: started.elapsed().as_secs_f64(),
        });
        finals.push((policy.key(), logits));
    }
    let (first, reference) = &finals[0];
    for (name, logits) in &finals[1..] {
        if let Some(agent) = (0..agents).find(|&a| logits[a] != reference[a]) {
            return Err(FleetError::Diverged {
                agent,
                a: first,
                b: name,
            });
        }
    }
    Ok(runs)
}

/// Deterministic token ids inside any vocabulary of at least 503 entries (ids 3..503, clear
/// of the usual special tokens at the bottom).
pub fn ids(seed: u32, n: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 40_503)) % 500 + 3)
        .collect()
}

fn bits(logits: &[f32]) -> Vec<u32> {
    logits.iter().map(|x| x.to_bits()).collect()
}

type ArmOutcome = (u64, Vec<Vec<u32>>);

fn naive<B: Backend>(
    model: &Model<B>,
    prefix: &[u32],
    turns: &[Vec<Vec<u32>>],
) -> Result<ArmOutcome, FleetError> {
    let (mut computed, mut finals) = (0, Vec::new());
    for agent in turns {
        let mut context = prefix.to_vec();
        let mut last = prefill_cold(model, &context)?;
        computed += context.len() as u64;
        for turn in agent {
            context.extend_from_slice(turn);
            last = prefill_cold(model, &context)?;
            computed += context.len() as u64;
        }
        finals.push(bits(&last));
    }
    Ok((computed, finals))
}

/// The last position's logits of `ids`, computed in a cache made and dropped here.
fn prefill_cold<B: Backend>(model: &Model<B>, ids: &[u32]) -> Result<Vec<f32>, FleetError> {
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), ids.len())?;
    Ok(model.forward(&mut Activations::new(), &mut kv, ids, Logits::Last)?)
}

fn meta(kind: SpanKind) -> SpanMeta {
    SpanMeta::new(kind, SpanTrust::Trusted)
}

/// Appends every turn of one agent to its session; returns the positions computed.
fn play<B: Backend>(session: &mut Session<B>, agent: &[Vec<u32>]) -> Result<u64, FleetError> {
    let mut computed = 0;
    for turn in agent {
        session.append(turn, meta(SpanKind::User))?;
        computed += session.last_edit().computed as u64;
    }
    Ok(computed)
}

fn final_logits<B: Backend>(session: &Session<B>) -> Vec<u32> {
    session.logits().map(bits).unwrap_or_default()
}

fn blocks_for(positions: usize) -> usize {
    positions.div_ceil(KV_BLOCK_TOKENS) + 1
}

fn private<B: Backend>(
    model: &Arc<Model<B>>,
    prefix: &[u32],
    turns: &[Vec<Vec<u32>>],
) -> Result<ArmOutcome, FleetError> {
    let (mut computed, mut finals) = (0, Vec::new());
    for agent in turns {
        let context = prefix.len() + agent.iter().map(Vec::len).sum::<usize>();
        let store = KvStore::new(model.clone(), blocks_for(context))?;
        let mut session = store.session();
        session.append(prefix, meta(SpanKind::System))?;
        computed += session.last_edit().computed as u64;
        computed += play(&mut session, agent)?;
        finals.push(final_logits(&session));
    }
    Ok((computed, finals))
}

fn shared<B: Backend>(
    model: &Arc<Model<B>>,
    prefix: &[u32],
    turns: &[Vec<Vec<u32>>],
) -> Result<ArmOutcome, FleetError> {
    let own: usize = turns.first().map_or(0, |t| t.iter().map(Vec::len).sum());
    let blocks = blocks_for(prefix.len()) + turns.len() * blocks_for(own);
    let store = KvStore::new(model.clone(), blocks)?;
    let mut root = store.session();
    root.append(prefix, meta(SpanKind::System))?;
    let mut computed = root.last_edit().computed as u64;
    let mut finals = Vec::new();
    for agent in turns {
        let mut session = root.fork();
        computed += play(&mut session, agent)?;
        finals.push(final_logits(&session));
    }
    Ok((computed, finals))
}
