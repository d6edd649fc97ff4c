//! `claims --check` catches a capability line without exactly one tag, without a witness,
//! or naming a witness that does not exist; and passes the lines that are right.

mod common;

use std::path::Path;

use fak_harness::claims::{self, Report, Workspace, check_text};

/// A one-crate workspace with a unit test, a proptest, an integration test, a bench and
/// a script.
fn demo_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"demo\"]\nresolver = \"3\"\n",
    );
    write(
        "demo/Cargo.toml",
        "[package]\nname = \"demo-crate\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [[bench]]\nname = \"speed\"\nharness = false\n",
    );
    write(
        "demo/src/lib.rs",
        "pub mod inner;\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn top_level_test() {}\n}\n",
    );
    write(
        "demo/src/inner.rs",
        "#[cfg(test)]\nmod tests {\n    proptest::proptest! {\n        #[test]\n        fn a_property(x in 0u8..3) { let _ = x; }\n    }\n    fn helper() {}\n}\n",
    );
    write(
        "demo/tests/it.rs",
        "#[test]\nfn integration_test() {}\nmod nested {\n    #[test]\n    fn nested_test() {}\n}\n",
    );
    write("demo/benches/speed.rs", "fn main() {}\n");
    write("scripts/make.py", "print(1)\n");
    dir
}

fn check(root: &Path, body: &str) -> Report {
    let ws = Workspace::scan(root).expect("the demo workspace scans");
    check_text(
        &format!("# Claims\n\nPreamble `not::a_claim`.\n\n## Demo\n\n{body}"),
        &ws,
    )
}

fn messages(report: &Report) -> Vec<String> {
    report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.place, p.message))
        .collect()
}

#[test]
fn every_witness_form_that_exists_passes() {
    let dir = demo_workspace();
    let report = check(
        dir.path(),
        "- [SHIPPED] unit test by crate path. Witness: `demo_crate::tests::top_level_test`\n\
         - [SHIPPED] package spelling and a proptest. Witness: `demo-crate::inner::tests::a_property`\n\
         - [SIMULATED] a test in a file, from the crate root and from the repository root:\n  \
           `tests/it.rs::integration_test`, `demo/tests/it.rs::nested::nested_test`\n\
         - [STUB] bench, commands and an artifact: `bench: speed`, `cargo bench -p demo-crate --bench speed`,\n  \
           command `python3 scripts/make.py`, `command: harness claims --check`, `artifact: scripts/make.py`\n",
    );
    assert_eq!(messages(&report), Vec::<String>::new());
    assert_eq!(report.lines, 4);
    assert_eq!(report.witnesses, 9);
}

#[test]
fn a_line_naming_no_witness_is_caught() {
    let dir = demo_workspace();
    let report = check(
        dir.path(),
        "- [SHIPPED] it works, trust us; see `some_function()`\n",
    );
    assert_eq!(
        messages(&report),
        vec![
            "CLAIMS.md:7: names no witness (a test path, `tests/file.rs::name`, `bench: ...`, `command: ...` or `artifact: ...`)"
        ]
    );
}

#[test]
fn a_missing_test_is_caught() {
    let dir = demo_workspace();
    let report = check(
        dir.path(),
        "- [SHIPPED] a. `demo_crate::tests::no_such_test`\n\
         - [SHIPPED] b. `tests/it.rs::no_such_test`\n\
         - [SHIPPED] c. `demo_crate::inner::tests::helper`\n",
    );
    assert_eq!(
        messages(&report),
        vec![
            "CLAIMS.md:7: no test `demo_crate::tests::no_such_test` in the workspace",
            "CLAIMS.md:8: no test `tests/it.rs::no_such_test` in demo/tests/it.rs",
            // A function that is not a test does not witness anything.
            "CLAIMS.md:9: no test `demo_crate::inner::tests::helper` in the workspace",
        ]
    );
}

#[test]
fn missing_and_double_tags_are_caught() {
    let dir = demo_workspace();
    let report = check(
        dir.path(),
        "- no tag here. `demo_crate::tests::top_level_test`\n\
         - [SHIPPED] [STUB] two tags. `demo_crate::tests::top_level_test`\n",
    );
    assert_eq!(
        messages(&report),
        vec![
            "CLAIMS.md:7: carries none of [SHIPPED], [SIMULATED], [STUB]",
            "CLAIMS.md:8: carries 2 tags ([SHIPPED], [STUB]); exactly one allowed",
        ]
    );
}

#[test]
fn missing_commands_benches_and_artifacts_are_caught() {
    let dir = demo_workspace();
    let report = check(
        dir.path(),
        "- [SHIPPED] a. `bench: slow`\n\
         - [SHIPPED] b. `cargo bench -p demo-crate --bench slow`\n\
         - [SHIPPED] c. `cargo test -p nowhere`\n\
         - [SHIPPED] d. `command: harness frobnicate`\n\
         - [SHIPPED] e. `command: nosuchtool --go`\n\
         - [SHIPPED] f. `artifact: data/none.json`\n",
    );
    assert_eq!(
        messages(&report),
        vec![
            "CLAIMS.md:7: no bench target `bench: slow` in the workspace",
            "CLAIMS.md:8: `command: cargo bench -p demo-crate --bench slow`: no bench target slow",
            "CLAIMS.md:9: `command: cargo test -p nowhere`: no package nowhere in the workspace",
            "CLAIMS.md:10: `command: harness frobnicate`: harness has no subcommand frobnicate",
            "CLAIMS.md:11: `command: nosuchtool --go`: `nosuchtool` is not a workspace binary, cargo, or a script in the repository",
            "CLAIMS.md:12: `artifact: data/none.json`: no such file or directory",
        ]
    );
}

#[test]
fn the_repository_claims_pass() {
    let report = claims::check(&common::repo_root()).expect("CLAIMS.md is checkable");
    let problems: Vec<String> = report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.place, p.message))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(report.lines > 0);
}
