//! Any argument text for a strict schema and for no schema: a call or a refusal, never a
//! panic; and a repaired call against a schema is always an object.
#![no_main]

use fak_kernel::repair::repair;
use fak_kernel::{RawCall, ToolDescriptor};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let schema = ToolDescriptor::new(
        "convert",
        json!({
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "count": {"type": "integer"},
                "from": {"type": "string", "enum": ["USD", "EUR"]},
                "flags": {"type": "array"},
                "opts": {"type": "object"},
                "round": {"type": ["boolean", "null"]}
            },
            "required": ["amount", "from"],
            "additionalProperties": false
        }),
    )
    .with_alias("amt", "amount");
    let raw = RawCall::text("convert", text.as_ref());
    if let Ok(r) = repair(&raw, Some(&schema)) {
        assert!(
            r.call.args.is_object(),
            "repaired arguments must be an object"
        );
    }
    let _ = repair(&raw, None);
});
