//! Property tests: no input, however broken, panics the lexer or the parser, and every
//! diagnostic points inside the file it was found in.

use journey_syntax::{FileId, parse};
use proptest::prelude::*;

mod props;
use props::{example_sources, mutate};

fn assert_sane(source: &str) {
    // The checker must cope with whatever the parser recovered, too.
    let mut project = journey_syntax::project::ParsedProject::default();
    project.add("fuzz.journey".into(), source.to_string());
    let checked = journey_check::check(&project);
    for d in &checked.diagnostics {
        assert!(d.primary.span.end as usize <= source.len(), "check span {:?} past end", d.primary.span);
    }
    let (_module, diagnostics) = parse(FileId(0), source);
    for d in diagnostics {
        assert!(d.primary.span.end as usize <= source.len(), "span {:?} past end of {} bytes", d.primary.span, source.len());
        assert!(d.primary.span.start <= d.primary.span.end);
        assert!(!d.message.is_empty());
    }
}

/// Fragments of the language, so random inputs get deep into the grammar instead of failing at
/// the first character.
const PIECES: &[&str] = &[
    "journey",
    "j",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "send",
    "m",
    "wait",
    "until",
    "for",
    "within",
    "1d 12h",
    "3d",
    "has",
    "where",
    "since",
    "entry",
    "on",
    "when",
    "at",
    "every",
    "year",
    "contact",
    ".",
    "score",
    ">=",
    "50",
    "and",
    "or",
    "not",
    "??",
    "\"s {x} \"",
    "\"{if a}b{else}c{end}\"",
    "\"{",
    "}\"",
    "if",
    "else",
    "match",
    "=>",
    "_",
    "split",
    "30%",
    "experiment",
    "exit",
    "test",
    "expect",
    "run",
    "2026-01-05T10:00:00Z",
    "09:00",
    "2026-01-05",
    ":",
    ",",
    "?",
    "message",
    "email",
    "event",
    "policy",
    "cap",
    "per",
    "\\",
    "$",
    "\n",
    " ",
    "//c\n",
    "///d\n",
    "-",
    "->",
    "migrate",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,200}") {
        assert_sane(&source);
    }

    #[test]
    fn arbitrary_token_soup_never_panics(pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..80)) {
        assert_sane(&pieces.join(" "));
    }

    #[test]
    fn mutated_examples_never_panic(file in 0usize..6, cut in any::<prop::sample::Index>(), len in 0usize..40, insert in proptest::sample::select(PIECES)) {
        let sources = example_sources();
        let source = &sources[file % sources.len()];
        let mutated = mutate(source, cut, len, insert);
        assert_sane(&mutated);
    }
}
