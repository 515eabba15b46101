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

    /// Long conditions — random clauses joined by `and` / `or`, some in parentheses, with line
    /// breaks of the author's here and there: formatting keeps the tokens, is idempotent, and
    /// leaves no line over the width limit that it could still break (an `and` / `or` outside
    /// brackets after the line's first token).
    #[test]
    fn long_conditions_are_broken_before_their_operators(
        clauses in prop::collection::vec((0usize..6, any::<bool>(), 0usize..4, any::<bool>()), 2..14),
    ) {
        const CLAUSES: [&str; 6] = [
            "contact.score > 3",
            "contact.plan == pro",
            "has opened where event.message == \"welcome_1\" within 3d",
            "count(page_viewed since entry) >= 12",
            "(contact.lifetime_value ?? 0.0) > 100.0",
            "not has purchase",
        ];
        let mut cond = String::new();
        for (i, &(c, or, group, newline)) in clauses.iter().enumerate() {
            if i > 0 {
                cond.push_str(if or { " or " } else { " and " });
            }
            if newline {
                cond.push_str("\n      ");
            }
            if group == 0 && i + 1 < clauses.len() {
                cond.push_str(&format!("({} or {})", CLAUSES[c], CLAUSES[(c + 1) % CLAUSES.len()]));
            } else {
                cond.push_str(CLAUSES[c]);
            }
        }
        let source = format!("journey j {{\n  entry on signed_up where {cond} // why\n  wait 1d\n}}\n");
        let once = format(&source).map_err(|_| "the generated journey does not parse").unwrap_or_default();
        prop_assert_eq!(tokens(&source), tokens(&once));
        prop_assert_eq!(format(&once).ok(), Some(once.clone()));
        for line in once.lines() {
            if line.chars().count() <= journey_syntax::format::MAX_WIDTH {
                continue;
            }
            // Tokens after the first at bracket depth 0: none may be `and` / `or`.
            let (tokens, _) = tokenize(line, 0);
            let mut depth = 0i32;
            for (i, (s, _, e)) in tokens.iter().enumerate() {
                let t = &line[*s..*e];
                match t {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth -= 1,
                    "and" | "or" if depth <= 0 && i > 0 => prop_assert!(false, "a breakable line is left long: {line}"),
                    _ => {}
                }
            }
        }
    }
}
