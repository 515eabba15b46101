//! What the property tests share: the example sources, and a way to damage them.

use proptest::sample::Index;

/// The `.journey` files of `examples/`, in path order.
pub fn example_sources() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// `source` with up to `len` bytes from `cut` replaced by `insert` (cut on character
/// boundaries).
pub fn mutate(source: &str, cut: Index, len: usize, insert: &str) -> String {
    let mut at = cut.index(source.len().max(1));
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let mut end = (at + len).min(source.len());
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}{}", &source[..at], insert, &source[end..])
}
