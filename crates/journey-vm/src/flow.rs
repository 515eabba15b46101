//! Counting contacts along each journey's flow graph (LANGUAGE.md §7's transitions, and the
//! step and edge counts of metrics and the report).
//!
//! Every step a contact enters is a move `from → to` between flow nodes (steps, then the entry
//! node, then the end node; see [`journey_bytecode::Journey::flow_entry`]). The VM counts each
//! move once, in one cell of a per-journey `to × from` matrix: one increment, at every step of
//! every contact. The step counts (a step's moves in), the edge counts (a flow edge's cell) and
//! the transitions (all moves into steps) are read from the matrix when asked for, not kept up
//! to date move by move. A journey with more than [`DENSE`] nodes counts its moves the long way:
//! its step and edge counts directly, its edges found among the edges into `to`.

use journey_bytecode::Program;

/// The most flow nodes a journey's moves are counted in a matrix for (33 KiB of counters).
const DENSE: usize = 64;
/// The most matrix cells a program's journeys have in all (512 KiB per VM: a run makes a VM
/// per piece of work it hands a thread, so this is zeroed often); journeys past it are counted
/// the long way. The examples' eleven journeys take about a thousand.
const MAX_CELLS: usize = 1 << 16;

/// One journey's counters: where its matrix starts, or none.
#[derive(Clone, Copy)]
struct Layout {
    /// Start of the matrix in `FlowCounts::cells`; `u32::MAX` when counted the long way.
    base: u32,
    nodes: u32,
}

impl Layout {
    /// Nodes below this are steps (moves into them are transitions); the entry and end nodes
    /// come after them.
    fn steps(self) -> u32 {
        self.nodes.saturating_sub(2)
    }
}

/// A journey counted the long way: its edges by the node they go into, as (from, edge index).
struct Sparse {
    into: Vec<Vec<(u32, u32)>>,
    step_hits: Vec<u64>,
    edge_hits: Vec<u64>,
}

/// The moves counted so far (per VM, so per thread; see [`crate::Vm::step_hits`]).
pub(crate) struct FlowCounts {
    layout: Vec<Layout>,
    cells: Vec<u64>,
    /// Per journey, its flow edges (what the edge counts are of).
    edges: Vec<Vec<(u32, u32)>>,
    /// Per journey counted the long way, its counters; `None` for the others.
    sparse: Vec<Option<Sparse>>,
    sparse_transitions: u64,
}

impl FlowCounts {
    pub(crate) fn new(program: &Program) -> Self {
        let mut counts = FlowCounts { layout: Vec::new(), cells: Vec::new(), edges: Vec::new(), sparse: Vec::new(), sparse_transitions: 0 };
        for journey in &program.journeys {
            let edges = journey.flow_edges();
            let nodes = journey.flow_end() as usize + 1;
            let steps = journey.flow_entry() as usize;
            // A column more than nodes, for moves from out of range (only an unverified program
            // has any): they count for the step they go into.
            let cells = nodes * (nodes + 1);
            if nodes <= DENSE && counts.cells.len() + cells <= MAX_CELLS {
                counts.layout.push(Layout { base: counts.cells.len() as u32, nodes: nodes as u32 });
                counts.cells.resize(counts.cells.len() + cells, 0);
                counts.sparse.push(None);
            } else {
                let mut into = vec![Vec::new(); nodes];
                for (i, &(from, to)) in edges.iter().enumerate() {
                    if let Some(list) = into.get_mut(to as usize) {
                        list.push((from, i as u32));
                    }
                }
                let (step_hits, edge_hits) = (vec![0; steps], vec![0; edges.len()]);
                counts.layout.push(Layout { base: u32::MAX, nodes: nodes as u32 });
                counts.sparse.push(Some(Sparse { into, step_hits, edge_hits }));
            }
            counts.edges.push(edges);
        }
        counts
    }

    /// A contact of journey `j` moved from node `from` to node `to` (a step it entered, or the
    /// end node).
    #[inline]
    pub(crate) fn count(&mut self, j: usize, from: u32, to: u32) {
        if let Some(layout) = self.layout.get(j)
            && layout.base != u32::MAX
            && to < layout.nodes
            && let Some(cell) = self.cells.get_mut(layout.base as usize + (to * (layout.nodes + 1) + from.min(layout.nodes)) as usize)
        {
            *cell += 1;
            return;
        }
        self.count_sparse(j, from, to);
    }

    #[inline(never)]
    fn count_sparse(&mut self, j: usize, from: u32, to: u32) {
        // A move into a step, or into no node (a step out of range, as the engine counted it).
        let (steps, nodes) = self.layout.get(j).map_or((0, 0), |l| (l.steps(), l.nodes));
        if to < steps || to >= nodes {
            self.sparse_transitions += 1;
        }
        let Some(Some(sparse)) = self.sparse.get_mut(j) else { return };
        if let Some(hits) = sparse.step_hits.get_mut(to as usize) {
            *hits += 1;
        }
        let edge = sparse.into.get(to as usize).and_then(|list| list.iter().find(|(f, _)| *f == from)).map(|&(_, e)| e);
        if let Some(hits) = edge.and_then(|e| sparse.edge_hits.get_mut(e as usize)) {
            *hits += 1;
        }
    }

    /// One journey's matrix row of moves into `to` (by the node they come from, then those from
    /// out of range), when it has a matrix.
    fn moves_into(&self, layout: Layout, to: u32) -> &[u64] {
        let start = layout.base as usize + (to * (layout.nodes + 1)) as usize;
        self.cells.get(start..start + layout.nodes as usize + 1).unwrap_or(&[])
    }

    /// Steps entered, in all journeys.
    pub(crate) fn transitions(&self) -> u64 {
        let dense: u64 = self
            .layout
            .iter()
            .filter(|l| l.base != u32::MAX)
            .map(|&l| (0..l.steps()).map(|to| self.moves_into(l, to).iter().sum::<u64>()).sum::<u64>())
            .sum();
        dense + self.sparse_transitions
    }

    /// Per journey, per step: how many times a contact entered it.
    pub(crate) fn step_hits(&self) -> Vec<Vec<u64>> {
        self.layout
            .iter()
            .zip(&self.sparse)
            .map(|(&l, sparse)| match sparse {
                Some(s) => s.step_hits.clone(),
                None => (0..l.steps()).map(|to| self.moves_into(l, to).iter().sum()).collect(),
            })
            .collect()
    }

    /// Per journey, per flow edge ([`journey_bytecode::Journey::flow_edges`]): how many times a
    /// contact went along it (the first of two equal edges has the count).
    pub(crate) fn edge_hits(&self) -> Vec<Vec<u64>> {
        self.layout
            .iter()
            .zip(&self.sparse)
            .zip(&self.edges)
            .map(|((&l, sparse), edges)| match sparse {
                Some(s) => s.edge_hits.clone(),
                None => edges
                    .iter()
                    .enumerate()
                    .map(|(i, &(from, to))| {
                        let first = edges.iter().position(|&e| e == (from, to)) == Some(i);
                        if first { self.moves_into(l, to).get(from as usize).copied().unwrap_or(0) } else { 0 }
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix or the long way, the counts are the same: each move into a step counts for the
    /// step and as a transition, each move along a flow edge for that edge (the first of equal
    /// ones), moves into the end node for their edge only, a move from out of range for the step
    /// it goes into, and one into no node as a transition (the engine counted each so before
    /// the matrix).
    #[test]
    fn both_ways_of_counting_agree() {
        let schema = "contact { plan: string }\nevent app_opened \"App Opened\" {}\n";
        let body = |n: usize| (0..n).map(|i| format!("s{i}: wait {}d\n", i + 1)).collect::<String>();
        for steps in [1usize, 3, 40, 61, 62, 63, 80] {
            let source = format!("{schema}journey j {{ entry on app_opened\n{} }}", body(steps));
            let program = journey_bytecode_program(&source);
            let journey = &program.journeys[0];
            let mut counts = FlowCounts::new(&program);
            let nodes = journey.flow_end() + 1;
            assert_eq!(counts.layout[0].base == u32::MAX, nodes as usize > DENSE, "{steps} steps");
            // Every move along the flow, twice over, and some that are not edges.
            let mut moves = Vec::new();
            for &(from, to) in &journey.flow_edges() {
                moves.extend([(from, to), (from, to)]);
            }
            moves.extend([(0, 0), (nodes - 1, 0), (nodes, 0), (0, nodes), (u32::MAX, 1)]);
            for &(from, to) in &moves {
                counts.count(0, from, to);
            }
            let into_step = |to: u32| moves.iter().filter(|m| m.1 == to).count() as u64;
            let expected_steps: Vec<u64> = (0..journey.flow_entry()).map(into_step).collect();
            assert_eq!(counts.step_hits()[0], expected_steps, "{steps} steps");
            // Moves out of range into no node are no step's, but a transition still.
            assert_eq!(counts.transitions(), expected_steps.iter().sum::<u64>() + 1, "{steps} steps");
            let edges = counts.edge_hits();
            assert!(edges[0].iter().all(|&n| n == 2), "{steps} steps: {:?}", edges[0]);
        }
    }

    /// Past the program's budget of cells, the next journeys are counted the long way, and
    /// every journey's counts are still its own.
    #[test]
    fn journeys_past_the_budget_of_cells_count_the_long_way() {
        let schema = "contact { plan: string }\nevent app_opened \"App Opened\" {}\n";
        let body = (0..60).map(|i| format!("s{i}: wait {}d\n", i + 1)).collect::<String>();
        let journeys: String = (0..18).map(|k| format!("journey j{k} {{ entry on app_opened\n{body} }}\n")).collect();
        let program = journey_bytecode_program(&format!("{schema}{journeys}"));
        let mut counts = FlowCounts::new(&program);
        let sparse = counts.layout.iter().filter(|l| l.base == u32::MAX).count();
        assert!(sparse > 0 && sparse < 18, "{sparse} of 18 journeys counted the long way");
        assert!(counts.cells.len() <= MAX_CELLS);
        for (j, journey) in program.journeys.iter().enumerate() {
            // Journey j: its first j + 1 edges, once each.
            for &(from, to) in journey.flow_edges().iter().take(j + 1) {
                counts.count(j, from, to);
            }
        }
        let (steps, edges) = (counts.step_hits(), counts.edge_hits());
        for (j, journey) in program.journeys.iter().enumerate() {
            let expected: Vec<u64> = journey.flow_edges().iter().enumerate().map(|(i, _)| u64::from(i <= j)).collect();
            assert_eq!(edges[j], expected, "journey {j}");
            let into_steps = journey.flow_edges().iter().take(j + 1).filter(|e| e.1 < journey.flow_entry()).count() as u64;
            assert_eq!(steps[j].iter().sum::<u64>(), into_steps, "journey {j}");
        }
        let all: u64 = steps.iter().flatten().sum();
        assert_eq!(counts.transitions(), all);
    }

    fn journey_bytecode_program(source: &str) -> Program {
        let mut project = journey_syntax::project::ParsedProject::default();
        project.add("t.journey".to_string(), source.to_string());
        let checked = journey_check::check(&project);
        journey_codegen::compile(&checked.program, 0)
    }
}
