//! The WebVoyager task file: one JSON object a line, `{"web_name", "id", "ques", "web"}`.

use std::path::Path;

use serde::Deserialize;

use super::WebbenchError;

/// One web-navigation task.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Task {
    /// The site, as the benchmark names it ("Google Search").
    pub web_name: String,
    pub id: String,
    /// The task statement given to the agent.
    pub ques: String,
    pub web: String,
}

/// How many turns the published geometry assumes a task on a site takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    /// The published classification: two easy sites, three hard ones, the rest medium.
    pub fn of_site(web_name: &str) -> Self {
        match web_name {
            "ESPN" | "Google Search" => Difficulty::Easy,
            "Amazon" | "Apple" | "Coursera" => Difficulty::Hard,
            _ => Difficulty::Medium,
        }
    }

    /// Agent turns the published geometry assumes for a task of this difficulty.
    pub fn turns(self) -> u64 {
        match self {
            Difficulty::Easy => 5,
            Difficulty::Medium => 12,
            Difficulty::Hard => 25,
        }
    }
}

/// Reads every task of a JSONL task file; blank lines are skipped, anything else that is
/// not a task is an error naming the line.
pub fn load_tasks(path: &Path) -> Result<Vec<Task>, WebbenchError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| WebbenchError::Read {
        file: file.clone(),
        source,
    })?;
    let mut tasks = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let task = serde_json::from_str(line).map_err(|source| WebbenchError::TaskLine {
            file: file.clone(),
            line: index + 1,
            source,
        })?;
        tasks.push(task);
    }
    if tasks.is_empty() {
        return Err(WebbenchError::NoTasks(file));
    }
    Ok(tasks)
}
