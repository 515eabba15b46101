//! Finding the files of a project. A project is a set of `.journey` files: directories are read
//! recursively and their files taken in byte order of their relative paths (LANGUAGE.md §1), so
//! declaration order — which breaks priority ties — never depends on the file system.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

/// Expands files and directories into the ordered list of `.journey` files they name.
/// A path named explicitly is used even without the extension; duplicates are dropped.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| LoadError { path: path.clone(), reason: describe_io(&e) })?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            walk(path, path, &mut found)?;
            found.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            if found.is_empty() {
                return Err(LoadError { path: path.clone(), reason: "no .journey files in this directory".into() });
            }
            out.extend(found.into_iter().map(|(_, p)| p));
        } else if path.extension().is_some_and(|e| e == "journey") {
            out.push(path.clone());
        } else {
            // A file named explicitly that is not source: input records or a built program
            // given where the project goes (it was parsed, an error at every line).
            let reason = if path.extension().is_some_and(|e| e == "jbc") {
                "a built program, not source: give it alone to a command that reads one (`run`, `explain`, `graph`, `diff`, `merge`, `disasm`), or give its `.journey` files"
            } else {
                "not a .journey file: a project is a directory or `.journey` files (input records go after --input)"
            };
            return Err(LoadError { path: path.clone(), reason: reason.into() });
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<(String, PathBuf)>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError { path: dir.to_path_buf(), reason: describe_io(&e) })?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError { path: dir.to_path_buf(), reason: describe_io(&e) })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| LoadError { path: path.clone(), reason: describe_io(&e) })?;
        if file_type.is_dir() {
            walk(root, &path, found)?;
        } else if path.extension().is_some_and(|e| e == "journey") {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            found.push((relative, path));
        }
    }
    Ok(())
}

/// Reads a file as UTF-8 text.
pub fn read_source(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError { path: path.to_path_buf(), reason: describe_io(&e) })?;
    String::from_utf8(bytes).map_err(|e| LoadError {
        path: path.to_path_buf(),
        reason: format!("not valid UTF-8 (first bad byte at offset {}); save the file as UTF-8", e.utf8_error().valid_up_to()),
    })
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

/// Every file of a project, parsed. Files are parsed independently, so an editor can re-parse one
/// edited file and keep the others' modules.
#[derive(Debug, Default)]
pub struct ParsedProject {
    pub sources: journey_diagnostics::SourceMap,
    /// One module per file, in project order (index = `FileId`).
    pub modules: Vec<crate::Module>,
    pub diagnostics: Vec<journey_diagnostics::Diagnostic>,
}

impl ParsedProject {
    /// Loads and parses the files named by `paths` (files or directories), and the files their
    /// `import "…"` declarations name (relative to the importing file), once each.
    pub fn load(paths: &[PathBuf]) -> Result<ParsedProject, LoadError> {
        let mut queue: std::collections::VecDeque<PathBuf> = collect_files(paths)?.into();
        let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        let mut project = ParsedProject::default();
        while let Some(path) = queue.pop_front() {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(key) {
                continue;
            }
            let text = read_source(&path)?;
            let id = project.add(path.to_string_lossy().into_owned(), text);
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            for item in project.modules.get(id.0 as usize).map(|m| m.items.as_slice()).unwrap_or(&[]) {
                if let crate::ast::ItemKind::Import(target) = &item.kind {
                    let imported = base.join(&target.value);
                    if !imported.is_file() {
                        return Err(LoadError { path: imported, reason: format!("imported by {} but not found", path.display()) });
                    }
                    queue.push_back(imported);
                }
            }
        }
        Ok(project)
    }

    /// Adds one file's text and parses it.
    pub fn add(&mut self, name: String, text: String) -> journey_diagnostics::FileId {
        let id = self.sources.add(name, text);
        let source = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        let (module, diagnostics) = crate::parse(id, source);
        self.modules.push(module);
        self.diagnostics.extend(diagnostics);
        id
    }
}

impl ParsedProject {
    /// Re-parses one file after an edit, keeping every other file's module: what the language
    /// server does on each change.
    pub fn replace(&mut self, id: journey_diagnostics::FileId, text: String) {
        self.sources.replace(id, text);
        let source = self.sources.get(id).map(|f| f.text.as_str()).unwrap_or("");
        let (module, diagnostics) = crate::parse(id, source);
        if let Some(slot) = self.modules.get_mut(id.0 as usize) {
            *slot = module;
        }
        self.diagnostics.retain(|d| d.primary.span.file != id);
        self.diagnostics.extend(diagnostics);
    }
}
