//! `report.html` (RUNTIME.md §4): one self-contained page a marketer can open offline. Per
//! journey: the flow diagram with the count on every step and edge and where people leave, goal
//! conversion, experiment arms with their confidence, and the top exit reasons; then engagement
//! per message and the run totals.
//!
//! Built from `metrics.json` and the program alone (so merged shard metrics give the same page),
//! with inline CSS and SVG and no script or external resource.

use journey_bytecode::{ArmOp, Journey, Program, StepOp, percent_text};
use serde_json::Value as Json;
use std::fmt::Write;

const NODE_W: i64 = 220;
const NODE_H: i64 = 58;
const GAP_X: i64 = 30;
const GAP_Y: i64 = 56;
const MARGIN: i64 = 20;

/// Escapes text for HTML and SVG.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration as written in the language (`2d`, `90s`, `1w`).
pub fn duration(ms: i64) -> String {
    const UNITS: [(i64, &str); 5] = [(86_400_000 * 7, "w"), (86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s")];
    for (unit, name) in UNITS {
        if ms >= unit && ms % unit == 0 {
            return format!("{}{name}", ms / unit);
        }
    }
    format!("{ms}ms")
}

fn seconds(s: i64) -> String {
    match s {
        s if s >= 86_400 => format!("{:.1} days", s as f64 / 86_400.0),
        s if s >= 3_600 => format!("{:.1} h", s as f64 / 3_600.0),
        s if s >= 60 => format!("{:.0} min", s as f64 / 60.0),
        s => format!("{s} s"),
    }
}

fn count(v: &Json) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn percent(v: &Json) -> String {
    v.as_f64().map_or_else(|| "–".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// What a step does, in a few words; with the expressions' source text when the program kept
/// it (`journey graph` compiles with it; a run's report does without).
fn describe(program: &Program, op: &StepOp) -> String {
    let name = |list: &[String], i: u32| list.get(i as usize).cloned().unwrap_or_default();
    let text = |at: u32| program.expr_text.iter().find(|(start, _)| *start == at).map(|(_, t)| t.as_str());
    match op {
        StepOp::Branch { condition, .. } if let Some(c) = text(*condition) => format!("if {c}"),
        StepOp::Match { scrutinee, .. } if let Some(e) = text(*scrutinee) => format!("match {e}"),
        StepOp::WaitUntil { at, .. } if let Some(t) = text(*at) => format!("wait until {t}"),
        StepOp::WaitCondition { condition, within_ms, .. } if let Some(c) = text(*condition) => format!("wait until {c} ({})", duration(*within_ms)),
        StepOp::Set { attribute, value, .. } if let Some(v) = text(*value) => {
            format!("set {} = {v}", program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or("?"))
        }
        StepOp::Send { message, .. } => {
            let m = program.messages.get(*message as usize);
            format!("send {} ({})", m.map(|m| m.name.as_str()).unwrap_or("?"), m.map(|m| m.channel.as_str()).unwrap_or("?"))
        }
        StepOp::Sync { audience, add, .. } => format!("{} {}", if *add { "add to" } else { "remove from" }, name(&program.audiences, *audience)),
        StepOp::Webhook { webhook, .. } => format!("webhook {}", name(&program.webhooks, *webhook)),
        StepOp::Set { attribute, .. } => format!("set {}", program.attributes.get(*attribute as usize).map(|a| a.name.as_str()).unwrap_or("?")),
        StepOp::Enroll { journey, .. } => format!("enroll in {}", program.journeys.get(*journey as usize).map(|j| j.name.as_str()).unwrap_or("?")),
        StepOp::WaitDuration { ms, .. } => format!("wait {}", duration(*ms)),
        StepOp::WaitUntil { .. } => "wait until a time".into(),
        StepOp::WaitClock { minutes, .. } => format!("wait until {:02}:{:02}", minutes / 60, minutes % 60),
        StepOp::WaitEvent { event, within_ms, .. } => {
            format!("wait for {} ({})", program.events.get(*event as usize).map(|e| e.name.as_str()).unwrap_or("?"), duration(*within_ms))
        }
        StepOp::WaitCondition { within_ms, .. } => format!("wait until condition ({})", duration(*within_ms)),
        StepOp::Branch { .. } => "if".into(),
        StepOp::Match { .. } => "match".into(),
        StepOp::Split { .. } => "split".into(),
        StepOp::Experiment { name, .. } => format!("experiment {name}"),
        StepOp::Exit { reason, .. } => journey_bytecode::program::exit_text(reason),
        StepOp::Jump { .. } | StepOp::Complete => String::new(),
    }
}

/// Places the flow nodes in layers (longest path from the entry) and returns each node's
/// (layer, position in layer) and the layer sizes.
fn layout(journey: &Journey, edges: &[(u32, u32)]) -> (Vec<(usize, usize)>, Vec<usize>) {
    let nodes = journey.flow_end() as usize + 1;
    let mut layer = vec![0usize; nodes];
    // Longest-path layering; the flow graph is acyclic, and the bound keeps it finite anyway.
    for _ in 0..nodes {
        let mut changed = false;
        for &(from, to) in edges {
            let (f, t) = (from as usize, to as usize);
            if f < nodes && t < nodes && layer[t] < layer[f] + 1 && layer[f] + 1 < nodes {
                layer[t] = layer[f] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let entry = journey.flow_entry() as usize;
    layer[entry] = 0;
    // The end node goes below everything.
    let end = journey.flow_end() as usize;
    let deepest = layer.iter().enumerate().filter(|(n, _)| *n != end).map(|(_, l)| *l).max().unwrap_or(0);
    layer[end] = deepest + 1;
    let layers = layer.iter().copied().max().unwrap_or(0) + 1;
    let mut sizes = vec![0usize; layers];
    // Entry first, then steps in program order.
    let order = std::iter::once(entry).chain(0..journey.step_ids.len()).chain(std::iter::once(end));
    let mut place = vec![(0, 0); nodes];
    for n in order {
        place[n] = (layer[n], sizes[layer[n]]);
        sizes[layer[n]] += 1;
    }
    (place, sizes)
}

/// Between two layers of a left-to-right diagram: room for an edge and its label.
const GAP_LAYERS_RIGHT: i64 = 110;
/// Between two nodes of one layer of a left-to-right diagram.
const GAP_IN_LAYER_RIGHT: i64 = 24;
/// How much room an edge skipping a layer takes across it (beside that layer's nodes).
const LANE: i64 = 16;

/// Where a flow diagram's nodes and edges go. Layers follow one another along one axis (down,
/// or right); the nodes of a layer sit side by side across it, centred on one line. An edge
/// that skips layers passes each layer between in a lane of its own, after that layer's nodes,
/// so that it never crosses a node.
struct Geometry {
    right: bool,
    width: i64,
    height: i64,
    /// Each node's top-left corner.
    nodes: Vec<(i64, i64)>,
    /// Each edge's path: the `d` of an SVG `<path>`.
    paths: Vec<String>,
    /// Where each edge's label may go: its first stretch between two layers (a cubic curve's
    /// four points; see [`place_labels`]).
    labels: Vec<[(i64, i64); 4]>,
}

impl Geometry {
    fn new(journey: &Journey, edges: &[(u32, u32)], right: bool) -> Geometry {
        let (place, sizes) = layout(journey, edges);
        // Sizes along the layers' axis and across it, whichever way the diagram runs.
        let (node_along, node_across, gap_along, gap_across) =
            if right { (NODE_W, NODE_H, GAP_LAYERS_RIGHT, GAP_IN_LAYER_RIGHT) } else { (NODE_H, NODE_W, GAP_Y, GAP_X) };
        let layer_start = |layer: usize| MARGIN + layer as i64 * (node_along + gap_along);
        let nodes_length = |n: usize| n as i64 * node_across + (n as i64 - 1).max(0) * gap_across;
        // The line the layers' nodes are centred on (the longest layer's nodes fill it from the
        // margin), where each node starts across, and where a layer's `lane`th lane is.
        let centre = MARGIN + sizes.iter().map(|&n| nodes_length(n)).max().unwrap_or(0) / 2;
        let corner = |node: usize| {
            let (layer, index) = place.get(node).copied().unwrap_or((0, 0));
            let first = centre - nodes_length(sizes.get(layer).copied().unwrap_or(1)) / 2;
            (layer_start(layer), first + index as i64 * (node_across + gap_across))
        };
        let nodes_end = |layer: usize| {
            let length = nodes_length(sizes.get(layer).copied().unwrap_or(0));
            centre + length - length / 2
        };
        let lane_at = |layer: usize, lane: usize| nodes_end(layer) + gap_across + lane as i64 * (LANE + gap_across) + LANE / 2;
        // Layer by layer, the edges passing it take its lanes in the order they arrive in
        // (where they were across the layer before), so that they do not cross each other there.
        let layer_of = |node: u32| place.get(node as usize).map_or(0, |p| p.0);
        let mut lane_of: Vec<Vec<(usize, i64)>> = vec![Vec::new(); edges.len()];
        let mut reach = (0..sizes.len()).map(|l| nodes_end(l) - centre).max().unwrap_or(0);
        for layer in 1..sizes.len() {
            let mut passing: Vec<(i64, usize)> = edges
                .iter()
                .enumerate()
                .filter(|(_, (from, to))| layer_of(*from) < layer && layer < layer_of(*to))
                .map(|(i, (from, _))| (lane_of[i].last().map_or_else(|| corner(*from as usize).1 + node_across / 2, |l| l.1), i))
                .collect();
            passing.sort_unstable();
            for (lane, (_, i)) in passing.iter().enumerate() {
                let at = lane_at(layer, lane);
                lane_of[*i].push((layer, at));
                reach = reach.max(at + LANE / 2 - centre);
            }
        }
        let across = centre + reach + MARGIN;
        let along = 2 * MARGIN + sizes.len() as i64 * node_along + (sizes.len() as i64 - 1).max(0) * gap_along;
        // (along, across) to (x, y).
        let point = |a: i64, c: i64| if right { (a, c) } else { (c, a) };
        let nodes = (0..place.len()).map(|n| {
            let (a, c) = corner(n);
            point(a, c)
        });
        let mut paths = Vec::with_capacity(edges.len());
        let mut labels = Vec::with_capacity(edges.len());
        for (i, &(from, to)) in edges.iter().enumerate() {
            let (fa, fc) = corner(from as usize);
            let (ta, tc) = corner(to as usize);
            // Leaves the source's far side, passes its lanes, reaches the target's near side;
            // each stretch between two layers is a curve leaving and arriving straight.
            let mut stops = vec![(fa + node_along, fc + node_across / 2)];
            for &(layer, c) in &lane_of[i] {
                stops.push((layer_start(layer), c));
                stops.push((layer_start(layer) + node_along, c));
            }
            stops.push((ta, tc + node_across / 2));
            let mut d = String::new();
            for (k, pair) in stops.chunks(2).enumerate() {
                let [(a1, c1), (a2, c2)] = pair else { continue };
                let ((x1, y1), (x2, y2)) = (point(*a1, *c1), point(*a2, *c2));
                let ((p, q), (r, t)) = (point(a1 + gap_along / 2, *c1), point(a2 - gap_along / 2, *c2));
                let _ = write!(d, "{}{x1},{y1} C{p},{q} {r},{t} {x2},{y2}", if k == 0 { "M" } else { " L" });
                if k == 0 {
                    labels.push([(x1, y1), (p, q), (r, t), (x2, y2)]);
                }
            }
            paths.push(d);
        }
        let (width, height) = point(along, across);
        Geometry { right, width, height, nodes: nodes.collect(), paths, labels }
    }
}

/// Edge labels: about how wide a character is, and how tall a line (11px text).
const LABEL_CHAR_W: f64 = 6.5;
const LABEL_H: f64 = 13.0;

/// Where each edge's label is written (the `x`, `y` of its `<text>`: the middle of its
/// baseline): on its first stretch, at the middle unless a label placed before is there, then
/// a little before or after it along the curve, then a line above or below — so that labels of
/// edges between the same two layers do not print over each other. Left to right, a label sits
/// above the curve.
fn place_labels(geometry: &Geometry, texts: &[String]) -> Vec<(i64, i64)> {
    // What a label must not cover: the nodes, and the labels placed before it.
    let mut boxes: Vec<(f64, f64, f64, f64)> =
        geometry.nodes.iter().map(|&(x, y)| (x as f64, y as f64, (x + NODE_W) as f64, (y + NODE_H) as f64)).collect();
    let mut places = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let curve = geometry.labels.get(i).copied().unwrap_or_default();
        let point = |t: f64| {
            let u = 1.0 - t;
            let weights = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
            let mix = |f: fn(&(i64, i64)) -> i64| curve.iter().zip(weights).map(|(p, w)| f(p) as f64 * w).sum::<f64>();
            let (x, y) = (mix(|p| p.0), mix(|p| p.1));
            if geometry.right { (x, y - 6.0) } else { (x, y + 4.0) }
        };
        let half = text.chars().count() as f64 * LABEL_CHAR_W / 2.0;
        // The text's box: baseline at `y`, cap height above it.
        let bounds = |(x, y): (f64, f64)| (x - half, y - LABEL_H + 3.0, x + half, y + 3.0);
        let free = |b: &(f64, f64, f64, f64)| boxes.iter().all(|o| b.2 <= o.0 || o.2 <= b.0 || b.3 <= o.1 || o.3 <= b.1);
        // Along the curve first; then a line above or below it; failing all, the middle.
        let mut candidates = [0.0, -LABEL_H, LABEL_H].into_iter().flat_map(|dy| [0.5, 0.35, 0.65, 0.22, 0.78].map(|t| (t, dy))).map(|(t, dy)| {
            let (x, y) = point(t);
            (x, y + dy)
        });
        let chosen = candidates.find(|p| free(&bounds(*p))).unwrap_or_else(|| point(0.5));
        if !text.is_empty() {
            boxes.push(bounds(chosen));
        }
        places.push((chosen.0.floor() as i64, chosen.1.floor() as i64));
    }
    places
}

fn flow_svg(program: &Program, journey: &Journey, metrics: &Json, standalone: bool, direction: Direction, out: &mut String) {
    let edges = journey.flow_edges();
    // With counts, an arm's label is its name and count: its share too would not fit the room
    // a label has between two layers.
    let labels = edge_labels(program, journey, metrics.is_null());
    let geometry = Geometry::new(journey, &edges, direction == Direction::Right);
    let (width, height) = (geometry.width, geometry.height);
    let edge_counts: Vec<u64> = metrics["edges"].as_array().map(|a| a.iter().map(|e| count(&e["count"])).collect()).unwrap_or_default();
    let busiest = edge_counts.iter().copied().max().unwrap_or(0).max(1);
    let counts = !metrics.is_null();
    let xmlns = if standalone { r#" xmlns="http://www.w3.org/2000/svg""# } else { "" };
    let _ = writeln!(
        out,
        r#"<svg{xmlns} class="flow" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="flow of {}">"#,
        esc(&journey.name)
    );
    if standalone {
        let _ = writeln!(out, "<style>{FLOW_STYLE}</style>");
    }
    let texts: Vec<String> = (0..edges.len())
        .map(|i| {
            let n = edge_counts.get(i).copied().unwrap_or(0);
            let label = labels.get(i).map_or("", String::as_str);
            let room = if geometry.right { 16 } else { 24 };
            let text = match (label.is_empty(), counts) {
                (true, true) => n.to_string(),
                (false, true) => format!("{label}: {n}"),
                (false, false) => label.to_string(),
                (true, false) => String::new(),
            };
            truncate(&text, room)
        })
        .collect();
    let places = place_labels(&geometry, &texts);
    for (i, (from, to)) in edges.iter().enumerate() {
        let n = edge_counts.get(i).copied().unwrap_or(0);
        let path = geometry.paths.get(i).map_or("", String::as_str);
        let stroke = 1.0 + 9.0 * n as f64 / busiest as f64;
        let stroke = if counts { stroke } else { 1.5 };
        let class = if n == 0 && counts { "edge unused" } else { "edge" };
        let _ = writeln!(
            out,
            r#"<path class="{class}" d="{path}" stroke-width="{stroke:.1}"><title>{f} → {t}: {n}</title></path>"#,
            f = esc(&node_name(journey, *from)),
            t = esc(&node_name(journey, *to)),
        );
        if let (Some(text), Some((x, y))) = (texts.get(i).filter(|t| !t.is_empty()), places.get(i)) {
            let _ = writeln!(out, r#"<text class="edge-count" x="{x}" y="{y}">{}</text>"#, esc(text));
        }
    }
    let by_step = leaving_by_step(metrics);
    for node in 0..=journey.flow_end() {
        let (x, y) = geometry.nodes.get(node as usize).copied().unwrap_or((0, 0));
        let (title, detail) = node_label(program, journey, metrics, node);
        let class = if node == journey.flow_entry() {
            "node entry"
        } else if node == journey.flow_end() {
            "node end"
        } else {
            "node"
        };
        let _ = writeln!(out, r#"<g class="{class}"><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>"#);
        let _ = writeln!(out, r#"<text x="{}" y="{}" class="title">{}</text>"#, x + 10, y + 20, esc(&truncate(&title, 32)));
        if let Some(detail) = detail {
            let _ = writeln!(out, r#"<text x="{}" y="{}">{}</text>"#, x + 10, y + 37, esc(&detail));
        }
        if let Some(id) = journey.step_ids.get(node as usize)
            && let Some(leaving) = by_step.iter().find(|(step, _)| step == id)
        {
            let (total, top) = (&leaving.1.0, &leaving.1.1);
            let _ = writeln!(out, r#"<text x="{}" y="{}" class="leave">{total} left here ({})</text>"#, x + 10, y + 52, esc(&truncate(top, 16)));
        }
        let _ = writeln!(out, "<title>{}</title></g>", esc(&title));
    }
    out.push_str("</svg>\n");
}

/// A flow node's title (`id: what it does`) and, with metrics, its count.
fn node_label(program: &Program, journey: &Journey, metrics: &Json, node: u32) -> (String, Option<String>) {
    let counts = !metrics.is_null();
    if node == journey.flow_entry() {
        ("entry".to_string(), counts.then(|| format!("{} entered", count(&metrics["entered"]))))
    } else if node == journey.flow_end() {
        ("end of journey".to_string(), counts.then(|| format!("{} completed", count(&metrics["exits"]["by_reason"]["completed"]))))
    } else {
        let id = journey.step_ids.get(node as usize).cloned().unwrap_or_default();
        // An `if … else if …` chain is one step of several branches: `if a / else if b`.
        let what = journey.code.iter().filter(|op| op.step() == Some(node)).map(|op| describe(program, op)).collect::<Vec<_>>().join(" / else ");
        let reached = counts.then(|| format!("{} reached", count(&metrics["steps"][&id]["entered"])));
        (if what.is_empty() { id } else { format!("{id}: {what}") }, reached)
    }
}

/// What each edge of [`Journey::flow_edges`] stands for (index for index): the branch of an
/// `if` (`yes` / `no`), the arm of a split or experiment, the event or the timeout of a
/// `wait for`, met or timed out for `wait until`; empty for the plain next step. With
/// `shares`, an arm's label carries its share (`a (50%)`).
fn edge_labels(program: &Program, journey: &Journey, shares: bool) -> Vec<String> {
    let mut edges: Vec<((u32, u32), Vec<String>)> = vec![((journey.flow_entry(), journey.flow_node_at(0)), Vec::new())];
    // An `if … else if … else` is one step compiled to a chain of branches: `if`, `else if`,
    // `else`; a lone `if` is `yes` / `no`.
    let mut branches = vec![0usize; journey.step_ids.len()];
    for op in &journey.code {
        if let StepOp::Branch { step, .. } = op
            && let Some(n) = branches.get_mut(*step as usize)
        {
            *n += 1;
        }
    }
    let mut branch_seen = vec![0usize; journey.step_ids.len()];
    for (pc, op) in journey.code.iter().enumerate() {
        let Some(from) = op.step() else { continue };
        let labels: Vec<String> = match op {
            StepOp::WaitEvent { event, .. } => vec![program.events.get(*event as usize).map_or("event".into(), |e| e.name.clone()), "timeout".into()],
            StepOp::WaitCondition { .. } => vec!["met".into(), "timeout".into()],
            // The enum's variants, in table order.
            StepOp::Match { enumeration, .. } => program.enums.get(*enumeration as usize).map(|e| e.variants.clone()).unwrap_or_default(),
            StepOp::Branch { step, .. } => {
                let (count, k) = (branches.get(*step as usize).copied().unwrap_or(1), branch_seen.get(*step as usize).copied().unwrap_or(0));
                if let Some(seen) = branch_seen.get_mut(*step as usize) {
                    *seen += 1;
                }
                match (count, k) {
                    (1, _) => vec!["yes".into(), "no".into()],
                    (_, 0) => vec!["if".into(), String::new()],
                    (_, k) if k + 1 == count => vec![if count > 2 { format!("else if {k}") } else { "else if".into() }, "else".into()],
                    (_, k) => vec![format!("else if {k}"), String::new()],
                }
            }
            // Each arm with its share: `a (50%)`, `1 (30%)` (split arms are numbered).
            StepOp::Split { arms, .. } | StepOp::Experiment { arms, .. } if !shares => arms.iter().map(|a| a.name.clone()).collect(),
            StepOp::Split { arms, .. } | StepOp::Experiment { arms, .. } => {
                ArmOp::shares(arms).map(|(name, share)| format!("{name} ({})", percent_text(share))).collect()
            }
            _ => Vec::new(),
        };
        for (i, next) in op.successors(pc as u32).into_iter().enumerate() {
            let edge = (from, journey.flow_node_at(next));
            if edge.0 == edge.1 {
                continue;
            }
            let label = labels.get(i).cloned().filter(|l| !l.is_empty());
            match edges.iter_mut().find(|(e, _)| *e == edge) {
                Some((_, existing)) => existing.extend(label.filter(|l| !existing.contains(l))),
                None => edges.push((edge, label.into_iter().collect())),
            }
        }
    }
    // The same edges as `flow_edges`, or no labels at all.
    let flow = journey.flow_edges();
    if edges.iter().map(|(e, _)| *e).ne(flow.iter().copied()) {
        return vec![String::new(); flow.len()];
    }
    edges.into_iter().map(|(_, labels)| labels.join(" / ")).collect()
}

/// The formats of `journey graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz (`dot -Tpng`).
    Dot,
    /// A standalone SVG image, drawn as in `report.html`.
    Svg,
    /// A Mermaid `flowchart` (renders in GitHub and GitLab Markdown).
    Mermaid,
}

/// Which way a flow diagram runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Entry at the top, the end at the bottom.
    #[default]
    Down,
    /// Entry on the left, the end on the right (wide screens, slides).
    Right,
}

/// One journey as a flow diagram (`journey graph`): every step with what it does, every edge of
/// the flow; with `metrics` (the journey's object in `metrics.json`) each node and edge carries
/// its count, and each step where contacts left says how many. Drawn top to bottom.
pub fn graph(program: &Program, journey: &Journey, metrics: Option<&Json>, format: GraphFormat) -> String {
    graph_towards(program, journey, metrics, format, Direction::Down)
}

/// [`graph`], running `direction`.
pub fn graph_towards(program: &Program, journey: &Journey, metrics: Option<&Json>, format: GraphFormat, direction: Direction) -> String {
    let none = Json::Null;
    let metrics = metrics.unwrap_or(&none);
    let counts = !metrics.is_null();
    let edges = journey.flow_edges();
    let edge_counts: Vec<u64> = metrics["edges"].as_array().map(|a| a.iter().map(|e| count(&e["count"])).collect()).unwrap_or_default();
    let by_step = leaving_by_step(metrics);
    let label = |node: u32| {
        let (title, detail) = node_label(program, journey, metrics, node);
        let left = journey
            .step_ids
            .get(node as usize)
            .and_then(|id| by_step.iter().find(|(s, _)| s == id))
            .map(|(_, (n, top))| format!("{n} left here ({top})"));
        std::iter::once(title).chain(detail).chain(left).collect::<Vec<_>>()
    };
    // An edge's label: what it stands for and, with metrics, its count.
    let labels = edge_labels(program, journey, true);
    let edge_text = |i: usize| {
        let what = labels.get(i).filter(|l| !l.is_empty()).cloned();
        let n = edge_counts.get(i).filter(|_| counts).map(u64::to_string);
        match (what, n) {
            (Some(w), Some(n)) => Some(format!("{w}: {n}")),
            (w, n) => w.or(n),
        }
    };
    // Entry first, then the steps in program order, then the end.
    let order = || std::iter::once(journey.flow_entry()).chain(0..journey.step_ids.len() as u32).chain(std::iter::once(journey.flow_end()));
    let mut out = String::new();
    match format {
        GraphFormat::Svg => flow_svg(program, journey, metrics, true, direction, &mut out),
        GraphFormat::Dot => {
            let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "digraph \"{}\" {{", quote(&journey.name));
            out.push_str(if direction == Direction::Right { "  rankdir=LR;\n" } else { "  rankdir=TB;\n" });
            out.push_str(
                "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4ff\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n",
            );
            for node in order() {
                let lines: Vec<String> = label(node).iter().map(|l| quote(l)).collect();
                let shape = if node == journey.flow_entry() || node == journey.flow_end() { ", shape=oval, fillcolor=\"#f2f2f2\"" } else { "" };
                let _ = writeln!(out, "  n{node} [label=\"{}\"{shape}];", lines.join("\\n"));
            }
            for (i, (from, to)) in edges.iter().enumerate() {
                match edge_text(i) {
                    Some(text) => {
                        let _ = writeln!(out, "  n{from} -> n{to} [label=\"{}\"];", quote(&text));
                    }
                    None => {
                        let _ = writeln!(out, "  n{from} -> n{to};");
                    }
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            // Mermaid reads `"…"` labels literally except for its entity codes.
            let quote = |text: &str| text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;");
            out.push_str(if direction == Direction::Right { "flowchart LR\n" } else { "flowchart TD\n" });
            for node in order() {
                let text = label(node).iter().map(|l| quote(l)).collect::<Vec<_>>().join("<br/>");
                if node == journey.flow_entry() || node == journey.flow_end() {
                    let _ = writeln!(out, "  n{node}([\"{text}\"])");
                } else {
                    let _ = writeln!(out, "  n{node}[\"{text}\"]");
                }
            }
            for (i, (from, to)) in edges.iter().enumerate() {
                match edge_text(i) {
                    Some(text) => {
                        let _ = writeln!(out, "  n{from} -->|\"{}\"| n{to}", quote(&text));
                    }
                    None => {
                        let _ = writeln!(out, "  n{from} --> n{to}");
                    }
                }
            }
        }
    }
    out
}

fn node_name(journey: &Journey, node: u32) -> String {
    match journey.step_ids.get(node as usize) {
        Some(id) => id.clone(),
        None if node == journey.flow_entry() => "entry".into(),
        None => "end".into(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_string() } else { text.chars().take(max - 1).chain(std::iter::once('…')).collect() }
}

/// Per step: how many left there, and the most common reason.
fn leaving_by_step(metrics: &Json) -> Vec<(String, (u64, String))> {
    let mut steps: Vec<(String, (u64, String, u64))> = Vec::new();
    if let Some(reasons) = metrics["exits"]["by_reason_and_step"].as_object() {
        for (reason, per_step) in reasons {
            for (step, n) in per_step.as_object().into_iter().flatten() {
                let n = count(n);
                match steps.iter_mut().find(|(s, _)| s == step) {
                    Some((_, (total, top, top_n))) => {
                        *total += n;
                        if n > *top_n {
                            *top = reason.clone();
                            *top_n = n;
                        }
                    }
                    None => steps.push((step.clone(), (n, reason.clone(), n))),
                }
            }
        }
    }
    steps.into_iter().map(|(s, (total, top, _))| (s, (total, top))).collect()
}

fn journey_section(program: &Program, journey: &Journey, metrics: &Json, out: &mut String) {
    let entered = count(&metrics["entered"]);
    let _ = writeln!(out, r#"<section id="j-{0}"><h2>{0}</h2>"#, esc(&journey.name));
    let mut facts = vec![format!("<b>{entered}</b> entered")];
    let holdout = &metrics["holdout"];
    if count(&holdout["entered"]) > 0 {
        facts.push(format!(
            "{} in the holdout group (uplift {}, p = {})",
            count(&holdout["entered"]),
            holdout["uplift"].as_f64().map_or("–".into(), |u| format!("{:+.1} points", u * 100.0)),
            holdout["p_value"].as_f64().map_or("–".into(), |p| format!("{p:.3}")),
        ));
    }
    let _ = writeln!(out, "<p>{}</p>", facts.join(" · "));
    // Goals.
    if let Some(goals) = metrics["goals"].as_object().filter(|g| !g.is_empty()) {
        out.push_str("<table><tr><th>goal</th><th>reached</th><th>conversion</th><th>median time to convert</th></tr>\n");
        for (name, g) in goals {
            let median = g["median_time_to_convert_seconds"].as_i64().map_or("–".into(), seconds);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{median}</td></tr>",
                esc(name),
                count(&g["reached"]),
                percent(&g["conversion_rate"])
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str(r#"<div class="scroll">"#);
    flow_svg(program, journey, metrics, false, Direction::Down, out);
    out.push_str("</div>\n");
    // Experiments.
    if let Some(experiments) = metrics["experiments"].as_object() {
        for (name, e) in experiments {
            let goal = e["goal"].as_str().unwrap_or("–");
            let _ = writeln!(out, "<h3>experiment {} <small>(measured on goal {})</small></h3>", esc(name), esc(goal));
            out.push_str(
                "<table><tr><th>arm</th><th>assigned</th><th>converted</th><th>rate</th><th>p-value vs first arm</th><th>confidence</th></tr>\n",
            );
            for (arm, a) in e["arms"].as_object().into_iter().flatten() {
                let p = a["p_value"].as_f64();
                let verdict = match p {
                    None => "baseline".to_string(),
                    Some(p) if p < 0.05 => format!("significant ({:.0}% confidence)", (1.0 - p) * 100.0),
                    Some(p) => format!("not significant ({:.0}% confidence)", (1.0 - p) * 100.0),
                };
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{verdict}</td></tr>",
                    esc(arm),
                    count(&a["assigned"]),
                    count(&a["converted"]),
                    percent(&a["rate"]),
                    p.map_or("–".into(), |p| format!("{p:.4}"))
                );
            }
            out.push_str("</table>\n");
        }
    }
    // Top exit reasons.
    if let Some(reasons) = metrics["exits"]["by_reason"].as_object().filter(|r| !r.is_empty()) {
        let mut reasons: Vec<(&String, u64)> = reasons.iter().map(|(r, n)| (r, count(n))).collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let exited: u64 = reasons.iter().map(|r| r.1).sum();
        out.push_str("<h3>top exit reasons</h3><table><tr><th>reason</th><th>contacts</th><th>share of exits</th></tr>\n");
        for (reason, n) in reasons.iter().take(5) {
            let share = if exited > 0 { format!("{:.1}%", *n as f64 * 100.0 / exited as f64) } else { "–".into() };
            let _ = writeln!(out, "<tr><td>{}</td><td>{n}</td><td>{share}</td></tr>", esc(reason));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}.scroll{overflow-x:auto}nav a{margin-right:1em}.warn{background:#fff6e0;border-left:4px solid #e0a020;padding:.4em .8em}";

/// The flow diagrams' part of the style (also embedded in `journey graph --format svg`).
const FLOW_STYLE: &str = ".flow .node rect{fill:#eef4ff;stroke:#4a72c4}.flow .entry rect{fill:#e6f6e6;stroke:#3a9a3a}.flow .end rect{fill:#f2f2f2;stroke:#888}\
.flow text{font-size:12px;fill:#222}.flow text.title{font-weight:600}.flow text.leave{fill:#b03030;font-size:11px}\
.flow .edge{fill:none;stroke:#7a9ad8;stroke-opacity:.7}.flow .unused{stroke:#ccc;stroke-dasharray:4 3}\
.flow .edge-count{font-size:11px;fill:#335;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3px}";

/// A warning paragraph for one of `metrics.json`'s per-name counts (`{total: N, names: {…}}`),
/// when N is not zero: `said` is (the singular phrase, the plural after the number), then `what`.
fn warn_counts(out: &mut String, counts: &Json, total: &str, names: &str, said: (&str, &str), what: &str) {
    let n = count(&counts[total]);
    if n == 0 {
        return;
    }
    let listed: Vec<String> =
        counts[names].as_object().into_iter().flatten().map(|(name, k)| format!("<code>{}</code> ({})", esc(name), count(k))).collect();
    let said = if n == 1 { said.0.to_string() } else { format!("{n} {}", said.1) };
    let _ = writeln!(out, "<p class=\"warn\">{said} {what}: {}</p>", listed.join(", "));
}

/// The whole page.
pub fn html(program: &Program, metrics: &Json) -> String {
    let mut out = String::new();
    let run = &metrics["run"];
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>journey run report</title>\n");
    let _ = writeln!(out, "<style>{STYLE}{FLOW_STYLE}</style></head><body>");
    out.push_str("<h1>Journey run report</h1>\n");
    let _ = writeln!(
        out,
        "<p>{} records read ({} rejected) · {} contacts · {} transitions · {:.1} s</p>",
        count(&run["records_read"]),
        count(&run["rejected"]),
        count(&run["contacts"]),
        count(&run["transitions"]),
        run["wall_seconds"].as_f64().unwrap_or(0.0)
    );
    // What a run met and could not use, said since it changed nothing: records of undeclared
    // events, contacts in zones that do not exist, conditions that could not be evaluated.
    warn_counts(
        &mut out,
        &run["undeclared"],
        "records",
        "events",
        ("1 record names an event", "records name events"),
        "the project does not declare and triggered nothing",
    );
    warn_counts(
        &mut out,
        &run["unknown_time_zones"],
        "contacts",
        "zones",
        ("1 contact has a time zone", "contacts have time zones"),
        "that name no IANA zone and were evaluated in UTC",
    );
    warn_counts(
        &mut out,
        &run["condition_errors"],
        "count",
        "conditions",
        ("1 time a condition", "times conditions"),
        "could not be evaluated and counted as false (contacts, per condition and reason)",
    );
    out.push_str("<nav>");
    for j in &program.journeys {
        let _ = write!(out, r##"<a href="#j-{0}">{0}</a>"##, esc(&j.name));
    }
    out.push_str("</nav>\n");
    for j in &program.journeys {
        journey_section(program, j, &metrics["journeys"][&j.name], &mut out);
    }
    out.push_str("<section><h2>messages</h2><table><tr><th>message</th><th>channel</th><th>sends</th><th>opens</th><th>clicks</th><th>open rate</th><th>click rate</th></tr>\n");
    for (name, m) in metrics["messages"].as_object().into_iter().flatten() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(m["channel"].as_str().unwrap_or("")),
            count(&m["sends"]),
            count(&m["opens"]),
            count(&m["clicks"]),
            percent(&m["open_rate"]),
            percent(&m["click_rate"])
        );
    }
    out.push_str("</table></section>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(86_400_000), "1d");
        assert_eq!(duration(3 * 3_600_000), "3h");
        assert_eq!(duration(90_000), "90s");
        assert_eq!(duration(1_209_600_000), "2w");
    }
}
