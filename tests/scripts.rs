//! `scripts/pgo.sh` is not run by `.ci/run` (it needs the toolchain's llvm-tools and two full
//! builds): these tests catch what can break it without either — a syntax error, and the
//! usage it prints when called without a mode.

use std::path::PathBuf;
use std::process::Command;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts").join("pgo.sh")
}

#[test]
fn pgo_script_parses() {
    let out = Command::new("bash").arg("-n").arg(script()).output().unwrap_or_else(|e| panic!("bash: {e}"));
    assert!(out.status.success(), "bash -n scripts/pgo.sh: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pgo_script_without_a_mode_prints_its_usage_and_builds_nothing() {
    for args in [&[][..], &["nonsense"][..]] {
        let out = Command::new("bash").arg(script()).args(args).output().unwrap_or_else(|e| panic!("bash: {e}"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("usage: scripts/pgo.sh build|bench"), "{stderr}");
        assert!(stderr.contains("target/pgo/use-build/release/journey"), "{stderr}");
    }
}
