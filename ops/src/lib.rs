//! The arithmetic of fak: deterministic math and the CPU reference of every op.
