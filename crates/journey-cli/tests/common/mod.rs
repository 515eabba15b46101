//! What the binary's end-to-end tests share: running `journey`, temporary projects, a small
//! project with tests.
#![allow(dead_code)] // each test binary uses some of it

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn journey(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journey")).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("cannot run journey: {e}"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn temp_project(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub const TEST_PROJECT: &str = r#"
contact { email: string, plan: Plan }
enum Plan { free, pro }
event signed_up "Signed Up" {}
message hi email { subject "Hi", template "hi" }
journey welcome { entry on signed_up  wait 1d  send hi }
test "passes" {
  contact ana { email: "a@x", plan: pro }
  at 2026-01-01T10:00:00Z ana signed_up
  run until 2026-01-03T00:00:00Z
  expect ana sent hi at 2026-01-02T10:00:00Z
  expect ana exited welcome by completed
  expect ana.plan == pro
}
test "fails with a readable diff" {
  contact bo { email: "b@x", plan: free }
  at 2026-01-01T10:00:00Z bo signed_up
  run until 2026-01-03T00:00:00Z
  expect bo sent hi at 2026-01-01T10:00:00Z
  expect bo in welcome
}
"#;
