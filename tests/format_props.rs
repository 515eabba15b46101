//! Property tests of `journey fmt`: it changes whitespace only — a formatted file has the same
//! tokens (doc comments without trailing whitespace) — it is idempotent, and files that differ only in horizontal whitespace format the same.

use journey_syntax::format::format;
use journey_syntax::lexer::tokenize;
use proptest::prelude::*;

mod props;
use props::{example_sources, mutate};

fn tokens(source: &str) -> Vec<String> {
    let (tokens, docs) = tokenize(source, 0);
    // Doc comments lose their trailing whitespace, as all lines do.
    tokens.iter().map(|(s, _, e)| source[*s..*e].to_string()).chain(docs.iter().map(|(_, d)| d.trim_end().to_string())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Every run of spaces between two tokens widened (never removed), tabs mixed in,
    /// indentation and trailing whitespace scrambled: the same layout.
    #[test]
    fn horizontal_whitespace_does_not_change_the_layout(file in 0usize..6, seed in any::<u64>()) {
        let sources = example_sources();
        let source = &sources[file % sources.len()];
        let mut state = seed | 1;
        let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
        // Between tokens (from the lexer: strings and comments stay whole): a space run becomes
        // another, an indentation another, and trailing whitespace appears.
        let (tokens_only, docs) = tokenize(source, 0);
        let mut spans: Vec<(usize, usize)> = tokens_only.iter().map(|(s, _, e)| (*s, *e)).chain(docs.iter().map(|(s, d)| (*s, s + d.len()))).collect();
        spans.sort_unstable();
        let mut varied = String::new();
        let mut at = 0;
        for (start, end) in spans.into_iter().chain(std::iter::once((source.len(), source.len()))) {
            let gap = &source[at..start];
            if gap.contains("//") {
                varied.push_str(gap);
            } else if gap.contains('\n') {
                for (i, piece) in gap.split('\n').enumerate() {
                    if i > 0 {
                        varied.push_str(["", " ", "\t "][(next() % 3) as usize]);
                        varied.push('\n');
                    }
                    varied.push_str(if piece.is_empty() { piece } else { ["", " ", "\t", "      "][(next() % 4) as usize] });
                }
            } else if !gap.is_empty() {
                varied.push_str(["  ", " \t", " ", "\t"][(next() % 4) as usize]);
            }
            varied.push_str(&source[start..end]);
            at = end;
        }
        let expected = format(source).map_err(|_| "the example does not parse").unwrap_or_default();
        let got = format(&varied).map_err(|_| "the varied example does not parse").unwrap_or_default();
        prop_assert_eq!(tokens(&varied).len(), tokens(&got).len());
        prop_assert_eq!(&got, &expected);
    }

    /// Examples with a piece cut out or replaced: whenever the result still parses, formatting
    /// keeps its tokens and formatting again changes nothing.
    #[test]
    fn formatting_keeps_tokens_and_is_idempotent(file in 0usize..6, cut in any::<prop::sample::Index>(), len in 0usize..30, insert in proptest::sample::select(&["", " ", "\n", "  wait 1d\n", " and not has x", "{}", " - 3", "(a)", "\t"][..])) {
        let sources = example_sources();
        let source = &sources[file % sources.len()];
        let mutated = mutate(source, cut, len, insert);
        if let Ok(once) = format(&mutated) {
            prop_assert_eq!(tokens(&mutated), tokens(&once));
            prop_assert_eq!(format(&once).ok(), Some(once.clone()));
        }
    }
}
