//! The language server through the protocol: in process over `Connection::memory()`, and end to
//! end against the real `journey lsp` binary over stdio.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::time::Duration;

const GOOD: &str = "contact { email: string, plan: Plan }\nenum Plan { free, pro }\n/// Fired when someone signs up.\nevent signed_up \"Signed Up\" { source: string }\nmessage hi email { subject \"Hi\", template \"hi\" }\njourney welcome {\n  entry on signed_up where event.source != \"x\"\n  send hi\n  if contact.plan == pro { exit }\n}\n";
const BROKEN: &str = "contact { email: string, plan: Plan }\nenum Plan { free, pro }\n/// Fired when someone signs up.\nevent signed_up \"Signed Up\" { source: string }\nmessage hi email { subject \"Hi\", template \"hi\" }\njourney welcome {\n  entry on signed_up where event.source != \"x\"\n  sned hi\n  if contact.plan == pro { exit }\n}\n";
const URI: &str = "file:///virtual/welcome.journey";

struct Client {
    connection: Connection,
    next: i32,
}

impl Client {
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.connection.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).unwrap_or_else(|e| panic!("{e}"));
        loop {
            match self.connection.receiver.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("no response to {method}: {e}")) {
                Message::Response(r) if r.id == id => {
                    return match r.error {
                        Some(e) => json!({ "error": e.message, "code": e.code }),
                        None => r.result.unwrap_or(Value::Null),
                    };
                }
                _ => continue,
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        self.connection.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&self, uri: &str) -> Vec<Value> {
        loop {
            if let Message::Notification(n) =
                self.connection.receiver.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("no diagnostics: {e}"))
                && n.method == "textDocument/publishDiagnostics"
                && n.params["uri"] == uri
            {
                return n.params["diagnostics"].as_array().cloned().unwrap_or_default();
            }
        }
    }
}

impl Client {
    /// Every `publishDiagnostics` until the response to a `documentSymbol` request on `uri`
    /// sent now (so every notification sent before it has arrived), as (uri, diagnostics), in
    /// order.
    fn published_until_response(&mut self, uri: &str) -> Vec<(String, Vec<Value>)> {
        self.next += 1;
        let id = RequestId::from(self.next);
        let params = json!({ "textDocument": { "uri": uri } });
        self.connection
            .sender
            .send(Message::Request(Request::new(id.clone(), "textDocument/documentSymbol".into(), params)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut published = Vec::new();
        loop {
            match self.connection.receiver.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("no response: {e}")) {
                Message::Response(r) if r.id == id => return published,
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    let list = n.params["diagnostics"].as_array().cloned().unwrap_or_default();
                    published.push((n.params["uri"].as_str().unwrap_or("").to_string(), list));
                }
                _ => continue,
            }
        }
    }

    /// The codes of the diagnostics last published for `uri` once every notification sent
    /// before now has arrived; `None` when none were.
    fn codes_when_idle(&mut self, uri: &str) -> Option<Vec<String>> {
        let last = self.published_until_response(uri).into_iter().rfind(|(u, _)| u == uri)?;
        Some(last.1.iter().filter_map(|d| d["code"].as_str().map(str::to_string)).collect())
    }

    /// The documents diagnostics were published for, in order, once every notification sent
    /// before now has arrived.
    fn published_until_idle(&mut self) -> Vec<String> {
        self.published_until_response(URI).into_iter().map(|(uri, _)| uri).collect()
    }
}

fn position(line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } })
}

#[test]
fn in_process_session() {
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || journey_lsp::serve(server));
    let mut c = Client { connection: client, next: 0 };
    let init = c.request("initialize", json!({ "capabilities": {}, "rootUri": null }));
    assert_eq!(init["capabilities"]["hoverProvider"], true);
    c.notify("initialized", json!({}));

    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": URI, "languageId": "journey", "version": 1, "text": BROKEN } }));
    let diagnostics = c.diagnostics(URI);
    let codes: Vec<&str> = diagnostics.iter().filter_map(|d| d["code"].as_str()).collect();
    // Only the typo: `hi` is sent by the step it broke, so no "never sent" while it stands.
    assert_eq!(codes, ["J0001"], "the typo alone: {diagnostics:?}");
    assert_eq!(diagnostics[0]["range"]["start"], json!({ "line": 7, "character": 7 }));
    assert_eq!(diagnostics[0]["severity"], 1);

    // While the file is broken, navigation uses the last good analysis; there is none with
    // this file yet, so it uses the one the parser recovered (before, the empty workspace's:
    // hover and completion answered nothing).
    let _ = c.request("textDocument/hover", position(7, 8));
    let hover = c.request("textDocument/hover", position(6, 13));
    assert!(hover["contents"]["value"].as_str().is_some_and(|v| v.contains("event signed_up \"Signed Up\"")), "{hover}");
    let completion = c.request("textDocument/completion", position(8, 13));
    let labels: Vec<&str> = completion.as_array().map(|a| a.iter().filter_map(|i| i["label"].as_str()).collect()).unwrap_or_default();
    assert_eq!(labels, ["email", "plan"], "{completion}");

    // Quick fix: the misspelt step word, replaced by the one the diagnostic suggests.
    let line = |l: u32, from: u32, to: u32| json!({ "start": { "line": l, "character": from }, "end": { "line": l, "character": to } });
    let fixes =
        c.request("textDocument/codeAction", json!({ "textDocument": { "uri": URI }, "range": line(7, 0, 9), "context": { "diagnostics": [] } }));
    assert_eq!(fixes.as_array().map(Vec::len), Some(1), "{fixes}");
    assert_eq!(fixes[0]["title"], "Replace `sned` with `send`");
    assert_eq!(fixes[0]["kind"], "quickfix");
    assert_eq!(fixes[0]["diagnostics"][0]["code"], "J0001");
    assert_eq!(fixes[0]["edit"]["changes"][URI], json!([{ "range": line(7, 2, 6), "newText": "send" }]));
    // None away from it; a checker's "did you mean" (an unknown event) is one too.
    let elsewhere =
        c.request("textDocument/codeAction", json!({ "textDocument": { "uri": URI }, "range": line(2, 0, 3), "context": { "diagnostics": [] } }));
    assert_eq!(elsewhere, json!([]));
    let misspelt = GOOD.replace("entry on signed_up", "entry on signed_op");
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": misspelt }] }));
    let _ = c.diagnostics(URI);
    let fixes =
        c.request("textDocument/codeAction", json!({ "textDocument": { "uri": URI }, "range": line(6, 12, 12), "context": { "diagnostics": [] } }));
    assert_eq!(fixes[0]["title"], "Replace `signed_op` with `signed_up`", "{fixes}");
    assert_eq!(fixes[0]["edit"]["changes"][URI][0]["range"], line(6, 11, 20));
    let bad = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": "file:///nowhere.journey" }, "range": line(0, 0, 1), "context": { "diagnostics": [] } }),
    );
    assert!(bad["error"].as_str().unwrap_or("").contains("open it first"), "{bad}");

    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": GOOD }] }));
    assert_eq!(c.diagnostics(URI), Vec::<Value>::new());

    let hover = c.request("textDocument/hover", position(6, 12));
    let text = hover["contents"]["value"].as_str().unwrap_or("");
    assert!(text.contains("event signed_up \"Signed Up\"") && text.contains("Fired when someone signs up."), "{hover}");
    let hover = c.request("textDocument/hover", position(7, 8));
    assert!(hover["contents"]["value"].as_str().unwrap_or("").contains("subject \"Hi\""), "message preview: {hover}");

    let definition = c.request("textDocument/definition", position(8, 14));
    assert_eq!(definition["range"]["start"], json!({ "line": 0, "character": 25 }), "contact.plan → its declaration: {definition}");

    let references = c.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": URI }, "position": { "line": 4, "character": 9 }, "context": { "includeDeclaration": true } }),
    );
    assert_eq!(references.as_array().map(Vec::len), Some(2), "{references}");

    let completion = c.request("textDocument/completion", position(8, 13));
    let labels: Vec<&str> = completion.as_array().map(|a| a.iter().filter_map(|i| i["label"].as_str()).collect()).unwrap_or_default();
    assert_eq!(labels, ["email", "plan"], "after `contact.`");
    let completion = c.request("textDocument/completion", position(6, 33));
    let labels: Vec<&str> = completion.as_array().map(|a| a.iter().filter_map(|i| i["label"].as_str()).collect()).unwrap_or_default();
    assert_eq!(labels, ["source"], "after `event.` in `entry on signed_up where`");

    let symbols = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    let names: Vec<&str> = symbols.as_array().map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(names, ["contact", "Plan", "signed_up", "hi", "welcome"]);
    assert_eq!(symbols[4]["children"].as_array().map(Vec::len), Some(3));

    let rename =
        c.request("textDocument/rename", json!({ "textDocument": { "uri": URI }, "position": { "line": 4, "character": 9 }, "newName": "hello" }));
    assert_eq!(rename["changes"][URI].as_array().map(Vec::len), Some(2), "{rename}");
    let bad =
        c.request("textDocument/rename", json!({ "textDocument": { "uri": URI }, "position": { "line": 4, "character": 9 }, "newName": "send" }));
    assert!(bad["error"].as_str().unwrap_or("").contains("not a valid name"), "{bad}");

    // Formatting: nothing to do for a formatted file; one whole-document edit otherwise.
    let none = c.request("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }));
    assert_eq!(none, json!([]));
    let messy = GOOD.replace("  send hi\n", "      send   hi\n\n\n");
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 3 }, "contentChanges": [{ "text": messy }] }));
    let _ = c.diagnostics(URI);
    let edits = c.request("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } }));
    assert_eq!(edits[0]["range"], json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 12, "character": 0 } }), "{edits}");
    assert_eq!(edits[0]["newText"], GOOD.replace("  send hi\n", "  send hi\n\n"));
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": 4 }, "contentChanges": [{ "text": GOOD }] }));
    let _ = c.diagnostics(URI);

    // Garbage: unknown methods and malformed params get errors, and the server lives on.
    let unknown = c.request("workspace/doesNotExist", json!({}));
    assert_eq!(unknown["code"], -32601);
    let malformed = c.request("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(malformed["code"], -32602);
    // Positions past the end of a line or of the document answer nothing (or the nearest
    // place), never a crash.
    for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/references"] {
        for (l, ch) in [(999, 0), (6, 999), (u32::MAX, u32::MAX)] {
            let mut params = position(l, ch);
            params["context"] = json!({ "includeDeclaration": true });
            let answer = c.request(method, params);
            assert!(answer.get("code").is_none(), "{method} at {l}:{ch}: {answer}");
        }
    }
    let still_alive = c.request("textDocument/hover", position(6, 12));
    assert!(still_alive["contents"].is_object());

    let _ = c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(thread.join().is_ok_and(|r| r.is_ok()));
}

/// An edit republishes its own document's diagnostics, and another document's only when they
/// changed: one notification per keystroke, not one per file of the project.
#[test]
fn an_edit_republishes_only_what_changed() {
    const SCHEMA: &str = "file:///virtual/schema.journey";
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || journey_lsp::serve(server));
    let mut c = Client { connection: client, next: 0 };
    let _ = c.request("initialize", json!({ "capabilities": {}, "rootUri": null }));
    c.notify("initialized", json!({}));
    let (schema, journey) = GOOD.split_at(GOOD.find("journey welcome").unwrap_or(0));
    let open = |c: &Client, uri: &str, text: &str| {
        c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "journey", "version": 1, "text": text } }))
    };
    let change = |c: &Client, uri: &str, version: u32, text: &str| {
        c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }))
    };
    open(&c, SCHEMA, schema);
    // The schema alone: its message is never sent, a warning.
    let published = c.published_until_idle();
    assert_eq!(published, [SCHEMA]);
    open(&c, URI, journey);
    // The journey sends it: the schema's warning goes, so both are published.
    assert_eq!(c.published_until_idle(), [SCHEMA, URI]);
    // An edit within the journey that changes nothing of the schema's diagnostics.
    change(&c, URI, 2, &journey.replace("send hi", "send hi\n  wait 1d"));
    assert_eq!(c.published_until_idle(), [URI]);
    // One that does: the message is no longer sent.
    change(&c, URI, 3, &journey.replace("send hi", "wait 1d"));
    assert_eq!(c.published_until_idle(), [SCHEMA, URI]);
    let _ = c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(thread.join().is_ok_and(|r| r.is_ok()));
}

/// Closing a document without saving drops its unsaved edits: the file on disk counts again
/// (before, the edited text stayed in the analysis, and its diagnostics with it).
#[test]
fn closing_an_unsaved_document_goes_back_to_the_file_on_disk() {
    let dir = std::env::temp_dir().join(format!("journey-lsp-close-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("welcome.journey"), GOOD).unwrap_or_else(|e| panic!("{e}"));
    let root = std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{e}"));
    let uri = journey_lsp::path_to_uri(&root.join("welcome.journey"));
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || journey_lsp::serve(server));
    let mut c = Client { connection: client, next: 0 };
    let _ = c.request("initialize", json!({ "capabilities": {}, "rootUri": journey_lsp::path_to_uri(&root) }));
    c.notify("initialized", json!({}));
    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "journey", "version": 1, "text": GOOD } }));
    assert_eq!(c.codes_when_idle(&uri), Some(Vec::new()));
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": BROKEN }] }));
    assert_eq!(c.codes_when_idle(&uri), Some(vec!["J0001".to_string()]));
    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
    assert_eq!(c.codes_when_idle(&uri), Some(Vec::new()), "published again, as on disk");
    let _ = c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(thread.join().is_ok_and(|r| r.is_ok()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every document of the examples damaged in many ways, and requests at random positions of
/// each (past line ends and the document's end included), then requests whose parameters are
/// not what the method takes: each gets an answer — a result, or an error saying what is
/// wrong — and the server ends cleanly.
#[test]
fn damaged_documents_and_malformed_requests_get_answers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    paths.sort();
    let texts: Vec<String> = paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    assert!(texts.len() >= 5);
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || journey_lsp::serve(server));
    let mut c = Client { connection: client, next: 0 };
    let _ = c.request("initialize", json!({ "capabilities": {}, "rootUri": null }));
    c.notify("initialized", json!({}));
    let uri = |i: usize| format!("file:///virtual/f{i}.journey");
    for (i, text) in texts.iter().enumerate() {
        c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri(i), "languageId": "journey", "version": 1, "text": text } }));
    }
    let mut seed = 99u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces = ["", "{", "}", "\"", "(", "journey", "send", "é", "\n", "//", "contact.", "event.", "0", "\u{1F600}", "match", "entry on"];
    for round in 0..60u32 {
        let f = (next() % texts.len() as u64) as usize;
        let source = &texts[f];
        let floor = |mut at: usize| {
            while !source.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let at = floor((next() % source.len() as u64) as usize);
        let end = floor((at + (next() % 12) as usize).min(source.len()));
        let text = format!("{}{}{}", &source[..at], pieces[(next() % pieces.len() as u64) as usize], &source[end..]);
        let version = round + 2;
        c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri(f), "version": version }, "contentChanges": [{ "text": text }] }));
        let lines: Vec<&str> = text.split('\n').collect();
        for _ in 0..8 {
            let line = (next() % (lines.len() as u64 + 1)) as u32;
            let character = (next() % (lines.get(line as usize).map_or(0, |l| l.chars().count()) as u64 + 3)) as u32;
            let at = json!({ "textDocument": { "uri": uri(f) }, "position": { "line": line, "character": character } });
            let range = json!({ "start": { "line": line, "character": 0 }, "end": { "line": line, "character": character } });
            let mut references = at.clone();
            references["context"] = json!({ "includeDeclaration": true });
            let mut rename = at.clone();
            rename["newName"] = json!("renamed");
            for (method, params) in [
                ("textDocument/hover", at.clone()),
                ("textDocument/definition", at.clone()),
                ("textDocument/completion", at.clone()),
                ("textDocument/references", references),
                ("textDocument/rename", rename),
                ("textDocument/codeAction", json!({ "textDocument": { "uri": uri(f) }, "range": range, "context": { "diagnostics": [] } })),
            ] {
                let answer = c.request(method, params);
                // Renaming where no name is refuses with a reason; the others always answer.
                let fine = match answer.get("error") {
                    None => true,
                    Some(e) => method == "textDocument/rename" && e.as_str().is_some_and(|e| !e.is_empty()),
                };
                assert!(fine, "{method} at {line}:{character} after an edit: {answer}");
            }
        }
        let formatting = json!({ "textDocument": { "uri": uri(f) }, "options": { "tabSize": 2, "insertSpaces": true } });
        assert!(c.request("textDocument/formatting", formatting).get("error").is_none());
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri(f), "version": version + 1000 }, "contentChanges": [{ "text": source }] }),
        );
    }
    // Parameters of the wrong shape: an error naming the problem, never a crash.
    let methods = ["textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/references", "textDocument/rename"];
    for method in methods {
        for params in [
            json!(null),
            json!([]),
            json!({ "textDocument": { "uri": 5 } }),
            json!({ "textDocument": { "uri": uri(0) }, "position": { "line": -1 } }),
        ] {
            let answer = c.request(method, params.clone());
            assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{method} with {params}: {answer}");
        }
    }
    let _ = c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert!(thread.join().is_ok_and(|r| r.is_ok()));
}
