//! The governance kernel's tables: its criterion benches and the fused agent's late
//! revocation.

use crate::criterion_import::id_segment;
use crate::ledger::Ledger;
use crate::number::grouped;

use super::format::{measured, times, with_range};
use super::{ReadmeError, get};

/// A two-column table, one criterion entry a row: what the bench times, its median.
fn bench_table(
    ledger: &Ledger,
    block: &'static str,
    rows: &[(&str, &str)],
) -> Result<String, ReadmeError> {
    let mut out = String::from("| bench | median |\n|---|---|\n");
    for (id, what) in rows {
        out.push_str(&format!(
            "| {what} | {} |\n",
            measured(get(ledger, block, id)?)
        ));
    }
    Ok(out)
}

/// Decide, the syscall path and admission (`cargo bench -p fak-kernel --bench decide
/// --bench admission --bench syscall`, recorded by `harness criterion`).
pub fn kernel_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
    bench_table(
        ledger,
        "kernel_bench",
        &[
            (
                "bench.decide_50_rules_rungs_read_only_call",
                "`decide_50_rules/rungs_read_only_call` (the rung fold over a 50-rule policy)",
            ),
            (
                "bench.decide_50_rules_rungs_write_shaped_call_path_resolution",
                "`decide_50_rules/rungs_write_shaped_call_path_resolution` (adds symlink resolution of a path argument)",
            ),
            (
                "bench.decide_50_rules_kernel_decide_with_journal_hashing",
                "`decide_50_rules/kernel_decide_with_journal_hashing` (adds the hash-chained journal record)",
            ),
            (
                "bench.syscall_vdso_hit",
                "`syscall/vdso_hit` (repair, decide, local answer, journal)",
            ),
            (
                "bench.syscall_vdso_miss_dispatch",
                "`syscall/vdso_miss_dispatch` (repair, decide, dispatch to an in-memory tool, admission, journal)",
            ),
            (
                "bench.admission.benign_corpus",
                "`admission/benign_corpus` (126 look-alikes and ordinary results)",
            ),
            (
                "bench.admission.hostile_corpus",
                "`admission/hostile_corpus` (168 obfuscated payloads)",
            ),
            (
                "bench.admission.benign_large_json",
                "`admission/benign_large_json` (one 97 KiB JSON result)",
            ),
        ],
    )
}

/// The offline scenario end to end (`cargo bench -p fak-kernel --bench scenario`).
pub fn scenario_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
    bench_table(
        ledger,
        "scenario_bench",
        &[
            (
                "bench.agent_offline_booking",
                "both arms of `booking` (`agent_offline/booking`)",
            ),
            (
                "bench.agent_offline_booking-evasive",
                "both arms of `booking-evasive` (`agent_offline/booking-evasive`)",
            ),
            (
                "bench.agent_offline_refund",
                "both arms of `refund` (`agent_offline/refund`)",
            ),
            (
                "bench.turntax_support_attacks_12_calls",
                "replaying the 12-call support-attacks trace (`turntax/support_attacks_12_calls`)",
            ),
        ],
    )
}

/// The KV cache's criterion bench (`cargo bench -p fak-kernel --bench kv`): a fork, and
/// the excision sweep against a cold re-prefill, span position by span position.
pub fn kv_bench(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "kv_bench";
    let mut out = bench_table(
        ledger,
        BLOCK,
        &[(
            "bench.kv_pool_fork_2048",
            "fork a 2048-token session (`kv_pool/fork_2048`)",
        )],
    )?;
    let mut params: Vec<String> = ledger
        .study("bench.kv_excise")
        .iter()
        .filter_map(|e| e.params.get("param").and_then(|p| p.as_text()))
        .map(str::to_string)
        .collect();
    // "p=896": sorted by the position, not as text.
    params.sort_by_key(|p| {
        p.trim_start_matches("p=")
            .parse::<u64>()
            .unwrap_or(u64::MAX)
    });
    params.dedup();
    for param in params {
        let id = |arm: &str| format!("bench.kv_excise.{arm}.{}", id_segment(&param));
        let (excise, cold) = (
            get(ledger, BLOCK, &id("excise"))?,
            get(ledger, BLOCK, &id("cold"))?,
        );
        out.push_str(&format!(
            "| excise against a cold re-prefill, span at {} (`kv_excise/*/{param}`) | {} / {} |\n",
            param.trim_start_matches("p="),
            measured(excise),
            measured(cold)
        ));
    }
    Ok(out)
}

/// The late revocation's excision against its cold rebuild (`harness fused`).
pub fn fused_revoke(ledger: &Ledger) -> Result<String, ReadmeError> {
    const BLOCK: &str = "fused_revoke";
    let excise = get(ledger, BLOCK, "fused.revoke.time.excise")?;
    let cold = get(ledger, BLOCK, "fused.revoke.time.cold_rebuild")?;
    let tokens = |e: &crate::ledger::Entry| {
        e.params
            .get("tokens")
            .and_then(|p| p.as_number())
            .map_or("-".to_string(), grouped)
    };
    let runs = excise
        .params
        .get("runs")
        .map_or("?".to_string(), |p| p.to_string());
    Ok(format!(
        "| | tokens computed | time, median of {runs} runs (min to max) |\n|---|---|---|\n\
         | excise the revoked span (recompute the suffix after it) | {} | {} |\n\
         | cold rebuild of the edited tokens, and the byte compare | {} | {} |\n\
         | cold / excise | | {} |\n",
        tokens(excise),
        with_range(excise),
        tokens(cold),
        with_range(cold),
        times(cold.value / excise.value)
    ))
}
