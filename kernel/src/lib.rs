//! The agent kernel: policy gate, syscall path, context-MMU, vDSO and audit journal.
