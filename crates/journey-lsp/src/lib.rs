//! `journey lsp`: a Language Server Protocol server over stdio (lsp-server + lsp-types,
//! synchronous loop). Diagnostics on open/change/save, hover, go to definition, find references,
//! completion, document symbols, rename, formatting, and quick fixes (a misspelt name replaced
//! by the one its diagnostic suggests).
//!
//! Robustness: every request's parameters are deserialized with error handling — a malformed or
//! unknown request gets an error response and the server keeps running; nothing here unwraps.

pub mod analysis;

use analysis::{Analysis, CompletionKind, offset, range};
use journey_diagnostics::{Diagnostic as JDiagnostic, FileId, Severity, Span};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CompletionItem, CompletionItemKind, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbol, Hover, HoverContents, Location,
    MarkupContent, MarkupKind, NumberOrString, PublishDiagnosticsParams, SymbolKind, TextEdit, Uri, WorkspaceEdit,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Runs the server on standard input and output until the client says `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    serve(connection)?;
    io_threads.join().map_err(|e| e.to_string())
}

/// Runs the server on a connection (stdio, or in memory in tests).
pub fn serve(connection: Connection) -> Result<(), String> {
    let capabilities = json!({
        "textDocumentSync": { "openClose": true, "change": 1, "save": { "includeText": true } },
        "hoverProvider": true,
        "definitionProvider": true,
        "referencesProvider": true,
        "completionProvider": { "triggerCharacters": ["."] },
        "documentSymbolProvider": true,
        "renameProvider": true,
        "documentFormattingProvider": true,
        "codeActionProvider": { "codeActionKinds": ["quickfix"] },
    });
    let init = connection.initialize(capabilities).map_err(|e| e.to_string())?;
    let mut server = Server { analysis: Analysis::new(), connection: &connection, published: HashMap::new(), diagnostics: Vec::new() };
    server.load_workspace(&init);
    server.publish(None);
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                server.request(request);
            }
            Message::Notification(notification) => server.notification(notification),
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Server<'c> {
    analysis: Analysis,
    connection: &'c Connection,
    /// What was last published for each document: an edit republishes its own document, and
    /// any other only when its diagnostics changed (a project of many files then gets one
    /// notification per keystroke, not one per file).
    published: HashMap<String, Vec<lsp_types::Diagnostic>>,
    /// The project's diagnostics as of the last analysis (quick fixes are read off them).
    diagnostics: Vec<JDiagnostic>,
}

/// How an error caused by a bug in the server (a panic) begins.
const INTERNAL: &str = "internal error";

/// Runs `work` so that a bug in it (a panic) becomes an error naming `what`, and the session
/// goes on: one request fails, not the editor's language server.
fn contained<T>(what: &str, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let cause = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default();
        Err(format!("{INTERNAL} in {what}: {cause} (a bug in journey: please report it with the document; the server carries on)"))
    })
}

/// A file path from a `file://` URI (percent-escapes decoded).
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

pub fn path_to_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

fn param<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, String> {
    serde_json::from_value(request.params.clone()).map_err(|e| format!("invalid params for {}: {e}", request.method))
}

impl Server<'_> {
    fn send(&self, message: Message) {
        // A closed channel means the client went away; the loop ends on its own.
        let _ = self.connection.sender.send(message);
    }

    fn load_workspace(&mut self, init: &Value) {
        let mut roots: Vec<PathBuf> = init
            .get("workspaceFolders")
            .and_then(Value::as_array)
            .map(|folders| folders.iter().filter_map(|f| f.get("uri").and_then(Value::as_str)).filter_map(uri_to_path).collect())
            .unwrap_or_default();
        if roots.is_empty()
            && let Some(root) = init.get("rootUri").and_then(Value::as_str).and_then(uri_to_path)
        {
            roots.push(root);
        }
        for root in roots {
            let Ok(files) = journey_syntax::project::collect_files(&[root]) else { continue };
            for file in files {
                if let Ok(text) = journey_syntax::project::read_source(&file) {
                    let uri = path_to_uri(&std::fs::canonicalize(&file).unwrap_or(file));
                    self.analysis.uris.push(uri.clone());
                    self.analysis.project.add(uri, text);
                }
            }
        }
        self.analysis.recheck();
    }

    fn to_lsp(&self, d: &JDiagnostic) -> Option<(usize, lsp_types::Diagnostic)> {
        let sources = &self.analysis.project.sources;
        let file = sources.get(d.primary.span.file)?;
        let mut message = d.message.clone();
        if !d.primary.message.is_empty() {
            message.push_str(&format!(" ({})", d.primary.message));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        let related: Vec<DiagnosticRelatedInformation> = d
            .secondary
            .iter()
            .filter_map(|l| {
                let f = sources.get(l.span.file)?;
                let uri = Uri::from_str(self.analysis.uris.get(l.span.file.0 as usize)?).ok()?;
                Some(DiagnosticRelatedInformation { location: Location { uri, range: range(f, l.span) }, message: l.message.clone() })
            })
            .collect();
        Some((
            d.primary.span.file.0 as usize,
            lsp_types::Diagnostic {
                range: range(file, d.primary.span),
                severity: Some(if d.severity == Severity::Error { DiagnosticSeverity::ERROR } else { DiagnosticSeverity::WARNING }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("journey".into()),
                message,
                related_information: if related.is_empty() { None } else { Some(related) },
                ..lsp_types::Diagnostic::default()
            },
        ))
    }

    /// Publishes the diagnostics of `edited` (every document when `None`), and of every other
    /// document whose diagnostics are not those last published for it.
    fn publish(&mut self, edited: Option<&str>) {
        let all = journey_check::all_diagnostics(&self.analysis.project, &self.analysis.checked);
        let mut per_file: Vec<Vec<lsp_types::Diagnostic>> = vec![Vec::new(); self.analysis.uris.len()];
        for d in &all {
            if let Some((file, diagnostic)) = self.to_lsp(d)
                && let Some(list) = per_file.get_mut(file)
            {
                list.push(diagnostic);
            }
        }
        self.diagnostics = all;
        for (name, diagnostics) in self.analysis.uris.iter().zip(per_file) {
            if edited.is_some_and(|e| e != name) && self.published.get(name) == Some(&diagnostics) {
                continue;
            }
            let Ok(uri) = Uri::from_str(name) else { continue };
            self.published.insert(name.clone(), diagnostics.clone());
            let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
            self.send(Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), params)));
        }
    }

    fn notification(&mut self, n: Notification) {
        let uri_and_text = match n.method.as_str() {
            "textDocument/didOpen" => {
                n.params.get("textDocument").and_then(|d| Some((d.get("uri")?.as_str()?.to_string(), d.get("text")?.as_str()?.to_string())))
            }
            "textDocument/didChange" => {
                let uri = n.params.get("textDocument").and_then(|d| d.get("uri")).and_then(Value::as_str).map(str::to_string);
                // Full sync: the last change holds the whole text.
                let text = n
                    .params
                    .get("contentChanges")
                    .and_then(Value::as_array)
                    .and_then(|c| c.last())
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                uri.zip(text)
            }
            // Closed: what counts again is the file on disk (unsaved edits are gone), or
            // nothing when there is none (a new document closed without saving).
            "textDocument/didClose" => n.params.get("textDocument").and_then(|d| d.get("uri")).and_then(Value::as_str).and_then(|uri| {
                self.analysis.file_of(uri)?;
                let text = uri_to_path(uri).and_then(|path| journey_syntax::project::read_source(&path).ok()).unwrap_or_default();
                Some((uri.to_string(), text))
            }),
            "textDocument/didSave" => {
                let uri = n.params.get("textDocument").and_then(|d| d.get("uri")).and_then(Value::as_str).map(str::to_string);
                let text = n.params.get("text").and_then(Value::as_str).map(str::to_string);
                uri.zip(text)
            }
            _ => None,
        };
        if let Some((uri, text)) = uri_and_text {
            let checked = contained("checking the document", || {
                self.analysis.set_text(&uri, text);
                self.publish(Some(&uri));
                Ok(())
            });
            if let Err(message) = checked {
                // The editor shows it; the session goes on with the last analysis.
                let params = json!({ "type": 1, "message": format!("journey lsp: {message}") });
                self.send(Message::Notification(Notification::new("window/showMessage".into(), params)));
            }
        }
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        let handler: fn(&Self, &Request) -> Result<Value, String> = match request.method.as_str() {
            "textDocument/hover" => Self::hover,
            "textDocument/definition" => Self::definition,
            "textDocument/references" => Self::references,
            "textDocument/completion" => Self::completion,
            "textDocument/documentSymbol" => Self::symbols,
            "textDocument/rename" => Self::rename,
            "textDocument/formatting" => Self::formatting,
            "textDocument/codeAction" => Self::code_actions,
            other => {
                self.error(id, ErrorCode::MethodNotFound, format!("unsupported request {other}"));
                return;
            }
        };
        let result = contained(&request.method, || handler(self, &request));
        let failed = match &result {
            Err(e) if e.starts_with(INTERNAL) => ErrorCode::InternalError,
            _ => ErrorCode::InvalidParams,
        };
        match result {
            Ok(value) => self.send(Message::Response(Response { id, result: Some(value), error: None })),
            Err(e) => self.error(id, failed, e),
        }
    }

    /// `journey fmt` for the open document: one edit replacing it all, none when it is
    /// formatted already or does not parse (its diagnostics say why).
    fn formatting(&self, request: &Request) -> Result<Value, String> {
        let params: lsp_types::DocumentFormattingParams = param(request)?;
        let uri = params.text_document.uri.as_str().to_string();
        let file = self.analysis.file_of(&uri).ok_or_else(|| format!("unknown document {uri}: open it first"))?;
        let source = self.analysis.project.sources.get(file).ok_or("unknown document")?;
        let Ok(formatted) = journey_syntax::format::format(&source.text) else { return Ok(json!([])) };
        if formatted == source.text {
            return Ok(json!([]));
        }
        let whole = lsp_types::Range { start: lsp_types::Position { line: 0, character: 0 }, end: analysis::position(source, source.text.len()) };
        serde_json::to_value([lsp_types::TextEdit { range: whole, new_text: formatted }]).map_err(|e| e.to_string())
    }

    /// Quick fixes for the diagnostics in the requested range: each misspelt name its
    /// diagnostic has a suggestion for, replaced by it (`did you mean …`).
    fn code_actions(&self, request: &Request) -> Result<Value, String> {
        let params: lsp_types::CodeActionParams = param(request)?;
        let uri = params.text_document.uri;
        let file = self.analysis.file_of(uri.as_str()).ok_or_else(|| format!("unknown document {}: open it first", uri.as_str()))?;
        let source = self.analysis.project.sources.get(file).ok_or("unknown document")?;
        let (start, end) = (offset(source, params.range.start), offset(source, params.range.end));
        let mut actions = Vec::new();
        for d in &self.diagnostics {
            let Some((span, meant)) = &d.fix else { continue };
            let (from, to) = (span.start as usize, span.end as usize);
            if span.file != file || to < start || from > end {
                continue;
            }
            let Some((_, diagnostic)) = self.to_lsp(d) else { continue };
            let written = source.text.get(from..to).unwrap_or("");
            // Keyed by `Uri`, as in `rename`; never mutated.
            #[allow(clippy::mutable_key_type)]
            let changes = HashMap::from([(uri.clone(), vec![TextEdit { range: range(source, *span), new_text: meant.clone() }])]);
            actions.push(lsp_types::CodeAction {
                title: format!("Replace `{written}` with `{meant}`"),
                kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic]),
                edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
                is_preferred: Some(true),
                ..lsp_types::CodeAction::default()
            });
        }
        serde_json::to_value(actions).map_err(|e| e.to_string())
    }

    fn error(&self, id: RequestId, code: ErrorCode, message: String) {
        self.send(Message::Response(Response::new_err(id, code as i32, message)));
    }

    /// The file and byte offset of a `TextDocumentPositionParams`.
    fn at(&self, request: &Request) -> Result<(FileId, usize), String> {
        let params: lsp_types::TextDocumentPositionParams = param(request)?;
        let uri = params.text_document.uri.as_str().to_string();
        let file = self.analysis.file_of(&uri).ok_or_else(|| format!("unknown document {uri}: open it first"))?;
        let source = self.analysis.project.sources.get(file).ok_or("unknown document")?;
        Ok((file, offset(source, params.position)))
    }

    fn location(&self, span: Span) -> Option<Location> {
        let (project, _) = self.analysis.navigable();
        let file = project.sources.get(span.file)?;
        let uri = Uri::from_str(self.analysis.uris.get(span.file.0 as usize)?).ok()?;
        Some(Location { uri, range: range(file, span) })
    }

    fn hover(&self, request: &Request) -> Result<Value, String> {
        let (file, at) = self.at(request)?;
        let Some((text, span)) = self.analysis.hover(file, at) else { return Ok(Value::Null) };
        let range = self.location(span).map(|l| l.range);
        let hover = Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }), range };
        serde_json::to_value(hover).map_err(|e| e.to_string())
    }

    fn definition(&self, request: &Request) -> Result<Value, String> {
        let (file, at) = self.at(request)?;
        let (_, checked) = self.analysis.navigable();
        let location = self.analysis.definition_at(file, at).and_then(|d| checked.definitions.get(d)).and_then(|d| self.location(d.span));
        serde_json::to_value(location).map_err(|e| e.to_string())
    }

    fn references(&self, request: &Request) -> Result<Value, String> {
        let params: lsp_types::ReferenceParams = param(request)?;
        let (file, at) =
            self.at(&Request { params: serde_json::to_value(&params.text_document_position).map_err(|e| e.to_string())?, ..request.clone() })?;
        let Some(d) = self.analysis.definition_at(file, at) else { return Ok(json!([])) };
        let (_, checked) = self.analysis.navigable();
        let declaration = checked.definitions.get(d).map(|x| x.span);
        let locations: Vec<Location> = self
            .analysis
            .occurrences(d)
            .into_iter()
            .filter(|s| params.context.include_declaration || Some(*s) != declaration)
            .filter_map(|s| self.location(s))
            .collect();
        serde_json::to_value(locations).map_err(|e| e.to_string())
    }

    fn completion(&self, request: &Request) -> Result<Value, String> {
        let (file, at) = self.at(request)?;
        let items: Vec<CompletionItem> = self
            .analysis
            .completions(file, at)
            .into_iter()
            .map(|(label, kind, detail)| CompletionItem {
                label,
                kind: Some(match kind {
                    CompletionKind::Field => CompletionItemKind::FIELD,
                    CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                    CompletionKind::Variant => CompletionItemKind::ENUM_MEMBER,
                    CompletionKind::Reference => CompletionItemKind::REFERENCE,
                }),
                detail: Some(detail),
                ..CompletionItem::default()
            })
            .collect();
        serde_json::to_value(items).map_err(|e| e.to_string())
    }

    #[allow(deprecated)] // `DocumentSymbol::deprecated` must still be given.
    fn symbols(&self, request: &Request) -> Result<Value, String> {
        let params: lsp_types::DocumentSymbolParams = param(request)?;
        let uri = params.text_document.uri.as_str().to_string();
        let file = self.analysis.file_of(&uri).ok_or_else(|| format!("unknown document {uri}"))?;
        let (project, checked) = self.analysis.navigable();
        let Some(source) = project.sources.get(file) else { return Ok(json!([])) };
        let symbol = |name: String, kind: SymbolKind, span: Span, children: Option<Vec<DocumentSymbol>>| DocumentSymbol {
            name,
            detail: None,
            kind,
            tags: None,
            deprecated: None,
            range: range(source, span),
            selection_range: range(source, span),
            children,
        };
        let mut out = Vec::new();
        for item in project.modules.get(file.0 as usize).map(|m| m.items.as_slice()).unwrap_or(&[]) {
            use journey_syntax::ast::ItemKind as K;
            match &item.kind {
                K::Journey(j) => {
                    let mut steps = Vec::new();
                    if let Some(ir) = checked.program.journeys.iter().find(|x| x.name == j.name.name) {
                        journey_check::inventory::walk_steps(&ir.body, &mut |s| {
                            if s.span.file == file {
                                steps.push(symbol(s.id.to_string(), SymbolKind::EVENT, s.span, None));
                            }
                        });
                    }
                    out.push(symbol(j.name.as_str().into(), SymbolKind::FUNCTION, item.span, Some(steps)));
                }
                K::Message(m) => out.push(symbol(m.name.as_str().into(), SymbolKind::STRING, item.span, None)),
                K::Event(e) => out.push(symbol(e.name.as_str().into(), SymbolKind::EVENT, item.span, None)),
                K::Enum(e) => out.push(symbol(e.name.as_str().into(), SymbolKind::ENUM, item.span, None)),
                K::Contact(_) => out.push(symbol("contact".into(), SymbolKind::STRUCT, item.span, None)),
                K::Policy(_) => out.push(symbol("policy".into(), SymbolKind::OBJECT, item.span, None)),
                K::Test(t) => out.push(symbol(format!("test \"{}\"", t.name.value), SymbolKind::METHOD, item.span, None)),
                K::Audience { name, .. } | K::Webhook { name, .. } => out.push(symbol(name.as_str().into(), SymbolKind::CONSTANT, item.span, None)),
                K::Import(_) | K::Error => {}
            }
        }
        serde_json::to_value(out).map_err(|e| e.to_string())
    }

    fn rename(&self, request: &Request) -> Result<Value, String> {
        let params: lsp_types::RenameParams = param(request)?;
        let new_name = params.new_name.trim().to_string();
        let valid = new_name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !journey_syntax::lexer::KEYWORDS.iter().any(|(k, _)| *k == new_name);
        if !valid {
            return Err(format!("`{new_name}` is not a valid name (letters, digits and `_`, not a keyword)"));
        }
        let (file, at) =
            self.at(&Request { params: serde_json::to_value(&params.text_document_position).map_err(|e| e.to_string())?, ..request.clone() })?;
        let Some(d) = self.analysis.definition_at(file, at) else { return Err("nothing to rename here".into()) };
        // `WorkspaceEdit::changes` is keyed by `Uri` (lsp-types' choice); the keys are never
        // mutated here.
        #[allow(clippy::mutable_key_type)]
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for span in self.analysis.occurrences(d) {
            if let Some(location) = self.location(span) {
                changes.entry(location.uri).or_default().push(TextEdit { range: location.range, new_text: new_name.clone() });
            }
        }
        serde_json::to_value(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_handler_becomes_an_internal_error_naming_it() {
        let answer: Result<(), String> = contained("textDocument/hover", || panic!("index out of bounds"));
        let message = answer.err().unwrap_or_default();
        assert!(message.starts_with("internal error in textDocument/hover: index out of bounds"), "{message}");
        let formatted: Result<(), String> = contained("checking the document", || panic!("{} went wrong", 3));
        assert!(formatted.err().unwrap_or_default().starts_with("internal error in checking the document: 3 went wrong"));
        assert_eq!(contained("x", || Ok::<_, String>(7)), Ok(7));
        assert_eq!(contained::<()>("x", || Err("bad params".into())), Err("bad params".to_string()));
    }
}
