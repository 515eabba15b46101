//! End to end: the real `journey lsp` binary, spoken to in JSON-RPC over its stdio, on a
//! workspace folder with two files (declarations in one, the journey in the other).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

struct Lsp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Lsp {
    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap_or_else(|e| panic!("{e}"));
        self.stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    fn receive(&mut self) -> Value {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
            assert!(!line.is_empty(), "server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn response(&mut self, id: i64) -> Value {
        loop {
            let m = self.receive();
            if m["id"] == id {
                return m;
            }
        }
    }

    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let m = self.receive();
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return m["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
        }
    }
}

#[test]
fn stdio_session_against_the_binary() {
    let dir = std::env::temp_dir().join(format!("journey-lsp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let dir = std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("schema.journey"), "event signed_up \"Signed Up\" {}\nmessage hi sms { body \"Hi\" }\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let journey = "journey welcome {\n  entry on signed_up\n  send hii\n}\n";
    std::fs::write(dir.join("welcome.journey"), journey).unwrap_or_else(|e| panic!("{e}"));
    let root = format!("file://{}", dir.display());
    let uri = format!("{root}/welcome.journey");

    let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout")));
    let mut lsp = Lsp { child, stdin, stdout };

    lsp.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {}, "rootUri": root, "workspaceFolders": [{ "uri": root, "name": "w" }] } }));
    let init = lsp.response(1);
    assert_eq!(init["result"]["capabilities"]["definitionProvider"], true);
    lsp.send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }));
    let diagnostics = lsp.diagnostics_for(&uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "J0103");
    assert!(diagnostics[0]["message"].as_str().unwrap_or("").contains("did you mean `hi`?"));

    lsp.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": { "uri": uri, "languageId": "journey", "version": 1, "text": journey } } }));
    let _ = lsp.diagnostics_for(&uri);
    let fixed = journey.replace("hii", "hi");
    lsp.send(json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": { "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": fixed }] } }));
    assert_eq!(lsp.diagnostics_for(&uri), Vec::<Value>::new());

    lsp.send(json!({ "jsonrpc": "2.0", "id": 2, "method": "textDocument/definition", "params": { "textDocument": { "uri": uri }, "position": { "line": 2, "character": 8 } } }));
    let definition = lsp.response(2);
    assert_eq!(definition["result"]["uri"], format!("{root}/schema.journey"), "{definition}");
    assert_eq!(definition["result"]["range"]["start"], json!({ "line": 1, "character": 8 }));

    lsp.send(json!({ "jsonrpc": "2.0", "id": 3, "method": "textDocument/hover", "params": { "textDocument": { "uri": uri }, "position": { "line": 1, "character": 13 } } }));
    assert!(lsp.response(3)["result"]["contents"]["value"].as_str().unwrap_or("").contains("event signed_up"));

    lsp.send(json!({ "jsonrpc": "2.0", "id": 4, "method": "textDocument/completion", "params": { "textDocument": { "uri": uri }, "position": { "line": 2, "character": 7 } } }));
    let items = lsp.response(4);
    assert_eq!(items["result"][0]["label"], "hi", "{items}");

    lsp.send(json!({ "jsonrpc": "2.0", "id": 5, "method": "$/garbage", "params": [1, 2, 3] }));
    assert_eq!(lsp.response(5)["error"]["code"], -32601);

    lsp.send(json!({ "jsonrpc": "2.0", "id": 6, "method": "shutdown" }));
    let _ = lsp.response(6);
    lsp.send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    let status = lsp.child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
}
