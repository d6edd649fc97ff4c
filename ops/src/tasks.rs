//! How the element-wise and row-wise ops split their work into rayon tasks.
//!
//! A task's output depends only on its own rows, so the split never changes a bit; it only
//! decides how much of a prefill's work every thread gets. Left on one thread, the norms
//! and RoPE of a 512-token Gemma 3 prefill kept the second thread idle for a tenth of it.

/// Elements per rayon task: a prefill's activations (hundreds of tokens x thousands of
/// values) split into enough tasks for every thread, while a decode step's few thousand
/// values stay on one.
pub(crate) const TASK_ELEMENTS: usize = 8192;

/// Rows of `row_len` values per task: [`TASK_ELEMENTS`] of them, at least one row.
pub(crate) fn rows_per_task(row_len: usize) -> usize {
    (TASK_ELEMENTS / row_len.max(1)).max(1)
}
