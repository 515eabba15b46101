//! The flow diagrams of `journey graph --format svg` and `report.html`: no edge crosses a node,
//! whichever way the diagram runs, for every journey of the examples and for generated ones
//! whose branches skip several layers.

use journey_bytecode::Program;
use journey_runtime::report::{Direction, GraphFormat, graph_towards};

/// A rectangle: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);
/// An edge's path, stretch by stretch: the points of each (a cubic curve's four, a straight
/// line's two).
type Path = Vec<Vec<(f64, f64)>>;

/// The value of attribute `name` in the tag `tag` (`name="…"`).
fn attribute<'t>(tag: &'t str, name: &str) -> &'t str {
    // The tag as split off its `<rect ` or `<path `: its first attribute has no space before it.
    let key = format!("{name}=\"");
    let from = if tag.starts_with(&key) { Some(key.len()) } else { tag.find(&format!(" {key}")).map(|i| i + 1 + key.len()) };
    let rest = &tag[from.unwrap_or(tag.len())..];
    &rest[..rest.find('"').unwrap_or(rest.len())]
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// The svg's size, its node rectangles and its edge paths.
fn parse(svg: &str) -> ((f64, f64), Vec<Rect>, Vec<Path>) {
    let size = (number(attribute(svg, "width")), number(attribute(svg, "height")));
    let rects = svg
        .split("<rect ")
        .skip(1)
        .map(|tag| {
            let (x, y) = (number(attribute(tag, "x")), number(attribute(tag, "y")));
            (x, y, x + number(attribute(tag, "width")), y + number(attribute(tag, "height")))
        })
        .collect();
    let paths = svg
        .split("<path ")
        .skip(1)
        .map(|tag| {
            let mut stretches: Path = Vec::new();
            let mut at = (0.0, 0.0);
            let mut points = Vec::new();
            let mut command = ' ';
            for token in attribute(tag, "d").split(' ') {
                let token = match token.chars().next() {
                    Some(c @ ('M' | 'C' | 'L')) => {
                        command = c;
                        &token[1..]
                    }
                    _ => token,
                };
                let (x, y) = token.split_once(',').unwrap_or_else(|| panic!("not a point: {token:?}"));
                points.push((number(x), number(y)));
                let done = match command {
                    'M' => {
                        at = points[0];
                        points.clear();
                        false
                    }
                    'C' => points.len() == 3,
                    _ => true,
                };
                if done {
                    stretches.push(std::iter::once(at).chain(points.drain(..)).collect());
                    at = *stretches.last().and_then(|s| s.last()).unwrap_or(&at);
                }
            }
            stretches
        })
        .collect();
    (size, rects, paths)
}

/// Whether the box around `points` reaches inside the rectangle (a curve stays within the box
/// of its control points).
fn enters(points: &[(f64, f64)], (left, top, right, bottom): Rect) -> bool {
    let min = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&(f64, f64)) -> f64| points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    min(|p| p.0) < right && max(|p| p.0) > left && min(|p| p.1) < bottom && max(|p| p.1) > top
}

/// Checks every diagram of `program`; returns how many edges pass a layer in a lane.
fn check_diagrams(program: &Program) -> usize {
    let mut lanes = 0;
    for journey in &program.journeys {
        for direction in [Direction::Down, Direction::Right] {
            let svg = graph_towards(program, journey, None, GraphFormat::Svg, direction);
            let ((width, height), rects, paths) = parse(&svg);
            let what = format!("{} ({direction:?})", journey.name);
            assert_eq!(rects.len(), journey.flow_end() as usize + 1, "{what}: one node per step, the entry and the end");
            assert_eq!(paths.len(), journey.flow_edges().len(), "{what}: one path per edge");
            for (i, a) in rects.iter().enumerate() {
                assert!(a.0 >= 0.0 && a.1 >= 0.0 && a.2 <= width && a.3 <= height, "{what}: node {i} outside the picture\n{svg}");
                for b in &rects[i + 1..] {
                    assert!(!enters(&[(a.0, a.1), (a.2, a.3)], *b), "{what}: nodes overlap\n{svg}");
                }
            }
            for (e, stretches) in paths.iter().enumerate() {
                assert!(!stretches.is_empty(), "{what}: edge {e} has no path");
                lanes += stretches.iter().filter(|s| s.len() == 2).count();
                for stretch in stretches {
                    assert!(
                        stretch.iter().all(|p| p.0 >= 0.0 && p.1 >= 0.0 && p.0 <= width && p.1 <= height),
                        "{what}: edge {e} leaves the picture\n{svg}"
                    );
                    for (n, rect) in rects.iter().enumerate() {
                        assert!(!enters(stretch, *rect), "{what}: edge {e} crosses node {n}: {stretch:?} and {rect:?}\n{svg}");
                    }
                }
            }
        }
    }
    lanes
}

#[test]
fn no_edge_of_the_examples_crosses_a_node() {
    let program = journey::examples().unwrap_or_else(|e| panic!("{e}"));
    // Win-back's `if` without `else` skips the enroll below it; lead routing's and cart
    // abandonment's branches skip steps too: those edges pass in lanes.
    assert!(check_diagrams(&program) >= 6);
}

#[test]
fn branches_skipping_several_layers_pass_beside_them() {
    let source = format!(
        "{}\nmessage hello email {{ subject \"Hi\", template \"hi\" }}\njourney nested \"Nested\" {{\n  entry on signed_up\n  if contact.score > 10 {{\n    wait 1d\n    if contact.score > 20 {{\n      wait 1d\n      send hello\n      wait 1d\n    }}\n    wait 2d\n  }} else if contact.score > 5 {{\n    wait 3d\n  }}\n  send hello\n}}\n",
        journey::schema()
    );
    let program = journey::compile(&[("nested.journey", &source)]).unwrap_or_else(|e| panic!("{e}"));
    // The outer `if` skips all five layers of its branch; the inner one, three.
    assert!(check_diagrams(&program) >= 8);
}

/// The box an edge label's text takes (as the renderer reckons it: 11px text, baseline at `y`,
/// centred on `x`).
fn label_boxes(svg: &str) -> Vec<(String, Rect)> {
    svg.split(r#"<text class="edge-count" "#)
        .skip(1)
        .map(|tag| {
            let (x, y) = (number(attribute(tag, "x")), number(attribute(tag, "y")));
            let text = &tag[tag.find('>').map_or(0, |i| i + 1)..tag.find("</text>").unwrap_or(tag.len())];
            // Entities (`&amp;`) print as one character.
            let chars = text.split('&').map(|part| part.find(';').map_or(part, |i| &part[i..]).chars().count()).sum::<usize>();
            let half = chars as f64 * 6.5 / 2.0;
            (text.to_string(), (x - half, y - 10.0, x + half, y + 3.0))
        })
        .collect()
}

#[test]
fn edge_labels_with_large_counts_cover_neither_each_other_nor_nodes() {
    let program = journey::examples().unwrap_or_else(|e| panic!("{e}"));
    let mut labelled = 0;
    for journey in &program.journeys {
        // Six-digit counts on every edge: the widest labels a month of traffic gives.
        let edges: Vec<_> = (0..journey.flow_edges().len()).map(|i| serde_json::json!({ "count": 123_456 + i })).collect();
        let metrics = serde_json::json!({ "edges": edges });
        for direction in [Direction::Down, Direction::Right] {
            let svg = graph_towards(&program, journey, Some(&metrics), GraphFormat::Svg, direction);
            let boxes = label_boxes(&svg);
            assert_eq!(boxes.len(), journey.flow_edges().len(), "{} ({direction:?}): one label per edge", journey.name);
            labelled += boxes.len();
            let (_, rects, _) = parse(&svg);
            for (text, r) in &boxes {
                for node in &rects {
                    assert!(!enters(&[(r.0, r.1), (r.2, r.3)], *node), "{} ({direction:?}): label {text:?} covers a node\n{svg}", journey.name);
                }
            }
            for (i, (a, ra)) in boxes.iter().enumerate() {
                for (b, rb) in &boxes[i + 1..] {
                    let apart = ra.2 <= rb.0 || rb.2 <= ra.0 || ra.3 <= rb.1 || rb.3 <= ra.1;
                    assert!(apart, "{} ({direction:?}): labels {a:?} and {b:?} overlap\n{svg}", journey.name);
                }
            }
        }
    }
    assert!(labelled > 50);
}
