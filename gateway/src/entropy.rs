//! Random bytes for ids and sampling seeds.

use std::time::{SystemTime, UNIX_EPOCH};

/// `N` random bytes. Without an entropy source, the clock's nanoseconds (repeated to fill
/// `N`): still distinct enough for log ids, and still varied between requests as seeds.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes();
        for (b, n) in bytes.iter_mut().zip(nanos.iter().cycle()) {
            *b = *n;
        }
    }
    bytes
}
