//! Admission against a corpus: every payload quarantined, benign look-alikes admitted at
//! a false-positive rate under 2%, secrets caught in every documented shape.

mod corpus;

use corpus::{benign, payloads};
use fak_kernel::RefusalCode;
use fak_kernel::admission::{ScreenLimits, ScreenVerdict, screen};

const LIMITS: ScreenLimits = ScreenLimits {
    max_result_bytes: 4 << 20,
    page_out_bytes: 1 << 20,
};

fn quarantine_code(text: &str) -> Option<RefusalCode> {
    match screen(text, LIMITS, true).verdict {
        ScreenVerdict::Quarantine { refusal } => Some(refusal.code),
        _ => None,
    }
}

#[test]
fn every_payload_in_every_obfuscation_is_quarantined() {
    let mut missed = Vec::new();
    let mut total = 0;
    for (i, base) in payloads::BASES.iter().enumerate() {
        for (name, obfuscate) in payloads::OBFUSCATIONS {
            total += 1;
            let text = obfuscate(base);
            if quarantine_code(&text) != Some(RefusalCode::TrustViolation) {
                missed.push(format!(
                    "payload {i} / {name}: {:?}",
                    screen(&text, LIMITS, true)
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "{} of {total} payloads admitted:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn benign_false_positive_rate_is_under_two_percent() {
    let samples = benign::all();
    let flagged: Vec<&str> = samples
        .iter()
        .filter(|(_, text)| quarantine_code(text).is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    let rate = flagged.len() as f64 / samples.len() as f64;
    println!(
        "benign false positives: {} of {} ({:.2}%): {flagged:?}",
        flagged.len(),
        samples.len(),
        rate * 100.0
    );
    assert!(
        samples.len() >= 100,
        "corpus too small to measure 2%: {}",
        samples.len()
    );
    assert!(
        rate < 0.02,
        "false-positive rate {:.2}%: {flagged:?}",
        rate * 100.0
    );
}

#[test]
fn every_secret_shape_is_quarantined_as_secret_exfil() {
    let secrets = [
        "aws: AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYab",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "slack xoxb-123456789012-abcdefghijklmnop",
        "hook https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdefghijklmnopqrstuvwx",
        "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123456789",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        "stripe sk_live_abcdefghijklmnopqrstuvwx",
    ];
    for s in secrets {
        assert_eq!(quarantine_code(s), Some(RefusalCode::SecretExfil), "{s}");
        // Hidden with zero-width characters, still caught.
        let hidden: String = s.chars().flat_map(|c| [c, '\u{200B}']).collect();
        assert_eq!(
            quarantine_code(&hidden),
            Some(RefusalCode::SecretExfil),
            "zero-width {s}"
        );
    }
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "AKIAIOSFODNN7EXAMPLE is the key",
    );
    assert_eq!(quarantine_code(&encoded), Some(RefusalCode::SecretExfil));
}

#[test]
fn flood_is_quarantined_as_oversize() {
    let flood = "Please buy now. ".repeat(4000);
    assert_eq!(quarantine_code(&flood), Some(RefusalCode::Oversize));
}
