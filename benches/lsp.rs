//! Language server latency: from a `didChange` of a 2,000-line file to its
//! `publishDiagnostics`, through the protocol (in-memory connection). Target ≤ 20 ms.
//! Run: `cargo bench --bench lsp`.

use criterion::{Criterion, criterion_group, criterion_main};
use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::json;
use std::time::Duration;

fn lsp(c: &mut Criterion) {
    let text = journey::schema() + &journey::generated_journeys(0, 51);
    let lines = text.lines().count();
    eprintln!("document: {lines} lines");
    let uri = "file:///bench/big.journey";
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || journey_lsp::serve(server));
    let send = |m: Message| client.sender.send(m).unwrap_or_else(|e| panic!("{e}"));
    send(Message::Request(Request::new(RequestId::from(1), "initialize".into(), json!({ "capabilities": {} }))));
    let _ = client.receiver.recv_timeout(Duration::from_secs(10));
    send(Message::Notification(Notification::new("initialized".into(), json!({}))));
    let wait_diagnostics = || loop {
        match client.receiver.recv_timeout(Duration::from_secs(10)) {
            Ok(Message::Notification(n)) if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri => return n,
            Ok(_) => continue,
            Err(e) => panic!("{e}"),
        }
    };
    send(Message::Notification(Notification::new(
        "textDocument/didOpen".into(),
        json!({ "textDocument": { "uri": uri, "languageId": "journey", "version": 1, "text": text } }),
    )));
    let _ = wait_diagnostics();
    let mut version = 1;
    c.bench_function("lsp/edit_2000_line_file_to_diagnostics", |b| {
        b.iter(|| {
            version += 1;
            let edited = text.replacen("wait 1d", if version % 2 == 0 { "wait 2d" } else { "wait 1d" }, 1);
            send(Message::Notification(Notification::new(
                "textDocument/didChange".into(),
                json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": edited }] }),
            )));
            wait_diagnostics()
        })
    });
    send(Message::Request(Request::new(RequestId::from(2), "shutdown".into(), json!(null))));
    send(Message::Notification(Notification::new("exit".into(), json!(null))));
    let _ = thread.join();
}

criterion_group!(benches, lsp);
criterion_main!(benches);
