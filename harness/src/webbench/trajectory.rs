//! Recorded agent runs: `task<ID>.json`, a list of messages (system, then user and
//! assistant in turn). A user message is an observation: a list of parts (text and a
//! screenshot, removed from the recording) while it is among the newest, a plain-text stub
//! once the agent clipped it from its context.

use std::path::Path;

use serde::Deserialize;

use super::WebbenchError;

/// Where an observation's own text starts; anything before it is the task statement the
/// first observation carries.
const OBSERVATION_MARKER: &str = "Observation:";

/// One observation as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Text before the observation marker: the task statement on the first turn, else "".
    pub header: String,
    /// The whole recorded text (header included).
    pub text: String,
    /// Whether the recording holds only the stub the agent left once it clipped this
    /// observation; its full text is lost.
    pub clipped: bool,
}

/// One agent turn: what it observed and what it replied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub observation: Observation,
    pub reply: String,
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trajectory {
    /// The task id, from the file name `task<ID>.json`.
    pub task_id: String,
    pub system: String,
    pub turns: Vec<Turn>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Content,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text { text: String },
    // The screenshot itself was removed from the recording; only its slot is left.
    ImageUrl {},
}

/// Reads every `task*.json` in `dir`, in file-name order.
pub fn load_trajectories(dir: &Path) -> Result<Vec<Trajectory>, WebbenchError> {
    let read_dir = std::fs::read_dir(dir).map_err(|source| WebbenchError::Read {
        file: dir.display().to_string(),
        source,
    })?;
    let mut paths = Vec::new();
    for item in read_dir {
        let path = item
            .map_err(|source| WebbenchError::Read {
                file: dir.display().to_string(),
                source,
            })?
            .path();
        let is_trajectory = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("task") && n.ends_with(".json"));
        if is_trajectory {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(WebbenchError::NoTrajectories(dir.display().to_string()));
    }
    paths.iter().map(|p| load_trajectory(p)).collect()
}

/// Reads one recorded run.
pub fn load_trajectory(path: &Path) -> Result<Trajectory, WebbenchError> {
    let file = path.display().to_string();
    let bad = |problem: String| WebbenchError::Trajectory {
        file: file.clone(),
        problem,
    };
    let task_id = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("task"))
        .and_then(|n| n.strip_suffix(".json"))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad("the file name is not task<ID>.json".to_string()))?
        .to_string();
    let text = std::fs::read_to_string(path).map_err(|source| WebbenchError::Read {
        file: file.clone(),
        source,
    })?;
    let messages: Vec<Message> =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a list of messages: {e}")))?;
    let mut messages = messages.into_iter();
    let system = match messages.next() {
        Some(Message {
            role,
            content: Content::Text(text),
        }) if role == "system" => text,
        _ => {
            return Err(bad(
                "the first message must be a plain-text system message".into()
            ));
        }
    };
    let mut turns = Vec::new();
    while let Some(user) = messages.next() {
        let index = turns.len() + 1;
        if user.role != "user" {
            return Err(bad(format!(
                "turn {index}: expected a user message, found {}",
                user.role
            )));
        }
        let observation = observation(user.content).ok_or_else(|| {
            bad(format!(
                "turn {index}: the observation has no \"{OBSERVATION_MARKER}\""
            ))
        })?;
        let reply = match messages.next() {
            Some(Message {
                role,
                content: Content::Text(text),
            }) if role == "assistant" => text,
            _ => {
                return Err(bad(format!(
                    "turn {index}: the observation must be followed by a plain-text assistant reply"
                )));
            }
        };
        turns.push(Turn { observation, reply });
    }
    if turns.is_empty() {
        return Err(bad("no turns after the system message".to_string()));
    }
    Ok(Trajectory {
        task_id,
        system,
        turns,
    })
}

fn observation(content: Content) -> Option<Observation> {
    let (text, clipped) = match content {
        Content::Text(text) => (text, true),
        Content::Parts(parts) => {
            let text: String = parts
                .into_iter()
                .filter_map(|part| match part {
                    Part::Text { text } => Some(text),
                    Part::ImageUrl { .. } => None,
                })
                .collect();
            (text, false)
        }
    };
    let (header, _) = text.split_once(OBSERVATION_MARKER)?;
    Some(Observation {
        header: header.to_string(),
        text,
        clipped,
    })
}

/// How many of the newest observations the agent kept whole. The recording must bear out
/// one rule: a run's clipped observations all come before its whole ones, and every run
/// that clipped anything kept the same number whole. `None` when no run clipped.
pub fn clip_window(trajectories: &[Trajectory]) -> Result<Option<usize>, WebbenchError> {
    let mut window: Option<usize> = None;
    for t in trajectories {
        let clipped = t
            .turns
            .iter()
            .filter(|turn| turn.observation.clipped)
            .count();
        if t.turns[..clipped]
            .iter()
            .any(|turn| !turn.observation.clipped)
        {
            return Err(WebbenchError::ClipRule(format!(
                "task {}: a whole observation comes before a clipped one",
                t.task_id
            )));
        }
        if clipped == 0 {
            continue;
        }
        let kept = t.turns.len() - clipped;
        match window {
            Some(w) if w != kept => {
                return Err(WebbenchError::ClipRule(format!(
                    "task {} kept {kept} observations whole, others kept {w}",
                    t.task_id
                )));
            }
            _ => window = Some(kept),
        }
    }
    // A run that clipped nothing must be no longer than the window, or it broke the rule.
    if let Some(w) = window
        && let Some(t) = trajectories
            .iter()
            .find(|t| t.turns.len() > w && t.turns.iter().all(|turn| !turn.observation.clipped))
    {
        return Err(WebbenchError::ClipRule(format!(
            "task {} has {} whole observations, more than the {w} other runs kept",
            t.task_id,
            t.turns.len()
        )));
    }
    Ok(window)
}
