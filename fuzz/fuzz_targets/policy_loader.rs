//! Any text given to the strict policy loader: an error or a policy, never a panic.
#![no_main]

use std::path::Path;

use fak_kernel::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(policy) = Policy::parse(text, "fuzz.json", Path::new("/tmp"))
    {
        // A policy that loads must also decide without failing.
        let kernel = fak_kernel::Kernel::builder(policy).build();
        let call = fak_kernel::ToolCall::new(
            "read_file",
            serde_json::json!({"path": "a/../b", "k": [1, "x"]}),
        );
        let _ = kernel.decide("fuzz", &call, None, None);
    }
});
