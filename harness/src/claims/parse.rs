//! CLAIMS.md as capability lines: every list item under a `##` section (with its
//! wrapped continuation lines) is one capability line.

/// The three tags; a capability line carries exactly one.
pub const TAGS: [&str; 3] = ["[SHIPPED]", "[SIMULATED]", "[STUB]"];

/// One capability line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLine {
    /// 1-based line number where the item starts.
    pub line: usize,
    pub section: String,
    /// The item's text, continuation lines joined with a space.
    pub text: String,
}

impl ClaimLine {
    /// Which tags the line carries, with repeats.
    pub fn tags(&self) -> Vec<&'static str> {
        TAGS.iter()
            .flat_map(|tag| std::iter::repeat_n(*tag, self.text.matches(tag).count()))
            .collect()
    }

    /// The line's inline code spans (`...`), where witnesses are named, each with
    /// whether the word `command` stands right before it (CLAIMS.md writes both
    /// `command: CMD` and command `CMD`).
    pub fn code_spans(&self) -> Vec<(bool, &str)> {
        let pieces: Vec<&str> = self.text.split('`').collect();
        pieces
            .iter()
            .enumerate()
            .skip(1)
            .step_by(2)
            .map(|(i, span)| (pieces[i - 1].trim_end().ends_with("command"), *span))
            .collect()
    }
}

fn is_item_start(line: &str) -> Option<&str> {
    line.strip_prefix("- ").or_else(|| line.strip_prefix("* "))
}

/// The capability lines of a CLAIMS.md text. Items before the first `##` heading (the
/// preamble) are not capability lines; nor is anything inside a fenced code block.
pub fn parse(text: &str) -> Vec<ClaimLine> {
    let mut claims: Vec<ClaimLine> = Vec::new();
    let mut section: Option<String> = None;
    let mut in_fence = false;
    let mut open_item = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            open_item = false;
            continue;
        }
        if in_fence {
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            section = Some(heading.trim().to_string());
            open_item = false;
            continue;
        }
        if line.starts_with('#') {
            section = None;
            open_item = false;
            continue;
        }
        let Some(current) = &section else {
            continue;
        };
        if let Some(item) = is_item_start(line) {
            claims.push(ClaimLine {
                line: index + 1,
                section: current.clone(),
                text: item.trim().to_string(),
            });
            open_item = true;
        } else if open_item && line.starts_with("  ") && !line.trim().is_empty() {
            let last = claims.last_mut().expect("an open item exists");
            last.text.push(' ');
            last.text.push_str(line.trim());
        } else {
            open_item = false;
        }
    }
    claims
}
