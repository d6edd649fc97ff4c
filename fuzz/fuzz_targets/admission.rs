//! Any tool result through the detectors: a verdict, never a panic; a quarantine stub
//! never holds the result's bytes.
#![no_main]

use fak_kernel::admission::{ScreenLimits, ScreenVerdict, screen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = ScreenLimits {
        max_result_bytes: 1 << 20,
        page_out_bytes: 4096,
    };
    let s = screen(&text, limits, true);
    if let ScreenVerdict::Quarantine { refusal } = &s.verdict {
        assert_eq!(s.bytes, text.len());
        // Refusal items are built from counts and names, never from the result.
        if text.len() >= 16 {
            assert!(!refusal.item.contains(text.as_ref()));
        }
    }
});
