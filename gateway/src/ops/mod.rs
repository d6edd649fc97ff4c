//! Operations: the access log, metrics, load shedding, and the body guard that lets each
//! of them act when a response (a stream included) has really finished.

pub mod access_log;
pub mod guard;
pub mod metrics;
pub mod shed;
