//! Pass 3: warnings and errors that need the whole project — unused messages, caps no journey
//! can reach, and `enroll` cycles that run without a wait.

use crate::Checker;
use crate::ir::*;
use journey_diagnostics::Diagnostic;
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(crate) fn lint(&mut self) {
        self.check_unsent_messages();
        self.check_caps();
        self.check_self_enrolls();
        self.check_unenterable_journeys();
        self.check_enroll_cycles();
        self.check_enroll_triggers();
    }

    /// `enroll` enters a journey without an event: one that reads `trigger.<field>` would fail
    /// at that read for every contact enrolled (an `error` action), so it is refused here.
    fn check_enroll_triggers(&mut self) {
        for (from, to, span, _) in self.enrolls.clone() {
            let Some(&used) = self.trigger_uses.get(&to) else { continue };
            let (from, to) = (&self.program.journeys[from.0 as usize].name, &self.program.journeys[to.0 as usize].name);
            let d = Diagnostic::error("J0134", format!("`trigger` is not available when `{from}` enrolls a contact in `{to}`"), span)
                .with_label("enters without a trigger event")
                .with_secondary(used, format!("`{to}` reads `trigger` here"))
                .with_help(format!(
                    "`enroll` passes no event: keep what `{to}` needs in a contact attribute (`set contact.<attr> = …` before the `enroll`) and read that"
                ));
            self.emit(d);
        }
    }

    /// `enroll` into the journey it stands in: the contact is in it while the step runs, and
    /// entries while enrolled are ignored (LANGUAGE.md §4), so it never does anything.
    fn check_self_enrolls(&mut self) {
        for (from, to, span, _) in self.enrolls.clone() {
            if from != to {
                continue;
            }
            let name = &self.program.journeys[from.0 as usize].name;
            let d = Diagnostic::warning("J0211", format!("`enroll {name}` inside `{name}` never does anything"), span)
                .with_label("the contact is in this journey here, and entries while enrolled are ignored")
                .with_help(format!(
                    "remove it; to run `{name}` again for a contact, give it an entry the contact meets again and `reentry always` (or `reentry after <duration>`)"
                ));
            self.emit(d);
        }
    }

    /// A journey with no entry that no other journey's `enroll` targets: no contact can ever
    /// enter it (LANGUAGE.md §4: such a journey is entered only through `enroll`).
    fn check_unenterable_journeys(&mut self) {
        let mut found = Vec::new();
        for (j, journey) in self.program.journeys.iter().enumerate() {
            let enrolled = self.enrolls.iter().any(|(from, to, _, _)| to.0 as usize == j && from != to);
            if !journey.entries.is_empty() || enrolled {
                continue;
            }
            let name = journey.name;
            let d = Diagnostic::warning("J0212", format!("no contact can ever enter journey `{name}`"), journey.span)
                .with_label("no entry, and no other journey enrolls contacts here")
                .with_help(
                    "add an entry (`entry on <event>`, `entry when <condition>`, `entry at …`), or `enroll` contacts into it from another journey",
                );
            found.push(d);
        }
        for d in found {
            self.emit(d);
        }
    }

    fn check_caps(&mut self) {
        let caps = self.program.policy.caps.clone();
        for cap in caps {
            let reachable = self.program.journeys.iter().any(|j| sends_on(&j.body, &self.program, cap.channel));
            if !reachable {
                let channel = cap.channel.as_str();
                self.emit(
                    Diagnostic::warning("J0206", format!("no journey sends a non-transactional {channel} message: this cap never applies"), cap.span)
                        .with_label("unreachable cap")
                        .with_help("remove the cap, or check the channel name"),
                );
            }
        }
    }

    fn check_enroll_cycles(&mut self) {
        let mut graph: HashMap<JourneyId, Vec<(JourneyId, journey_diagnostics::Span)>> = HashMap::new();
        // Only the edges reached before any wait can loop without time passing.
        // An `enroll` into its own journey is no cycle: it is ignored (J0211).
        for (from, to, span, _) in self.enrolls.iter().filter(|e| e.3 && e.0 != e.1) {
            graph.entry(*from).or_default().push((*to, *span));
        }
        let mut reported: Vec<Vec<JourneyId>> = Vec::new();
        let mut starts: Vec<JourneyId> = graph.keys().copied().collect();
        starts.sort();
        for start in starts {
            let mut path = vec![start];
            let mut spans = Vec::new();
            self.find_cycle(&graph, start, &mut path, &mut spans, &mut reported);
        }
    }

    fn find_cycle(
        &mut self,
        graph: &HashMap<JourneyId, Vec<(JourneyId, journey_diagnostics::Span)>>,
        start: JourneyId,
        path: &mut Vec<JourneyId>,
        spans: &mut Vec<journey_diagnostics::Span>,
        reported: &mut Vec<Vec<JourneyId>>,
    ) {
        let Some(&current) = path.last() else { return };
        let edges = graph.get(&current).cloned().unwrap_or_default();
        for (next, span) in edges {
            if next == start {
                let mut members = path.clone();
                members.sort();
                if reported.contains(&members) {
                    continue;
                }
                reported.push(members);
                let names: Vec<String> =
                    path.iter().chain(std::iter::once(&start)).map(|j| format!("`{}`", self.program.journeys[j.0 as usize].name)).collect();
                let mut d = Diagnostic::error("J0144", format!("`enroll` cycle with no wait: {}", names.join(" → ")), span)
                    .with_label("closes the cycle")
                    .with_help(
                        "each journey runs up to its first wait before the enrolling one continues; add a wait before one of these `enroll` steps",
                    );
                for s in spans.iter() {
                    d = d.with_secondary(*s, "enrolls here, before any wait");
                }
                self.emit(d);
            } else if !path.contains(&next) && next > start {
                path.push(next);
                spans.push(span);
                self.find_cycle(graph, start, path, spans, reported);
                spans.pop();
                path.pop();
            }
        }
    }
}

fn sends_on(steps: &[Step], program: &Program, channel: journey_syntax::ast::Channel) -> bool {
    steps.iter().any(|step| match &step.kind {
        StepKind::Send { message, .. } => {
            let m = &program.messages[message.0 as usize];
            m.channel == channel && !m.transactional
        }
        StepKind::WaitEvent { on_event, on_timeout, .. } => sends_on(on_event, program, channel) || sends_on(on_timeout, program, channel),
        StepKind::WaitCondition { on_met, on_timeout, .. } => sends_on(on_met, program, channel) || sends_on(on_timeout, program, channel),
        StepKind::If { branches, otherwise } => branches.iter().any(|(_, b)| sends_on(b, program, channel)) || sends_on(otherwise, program, channel),
        StepKind::Match { arms, .. } => arms.iter().any(|(_, b)| sends_on(b, program, channel)),
        StepKind::Split { arms } | StepKind::Experiment { arms, .. } => arms.iter().any(|a| sends_on(&a.body, program, channel)),
        _ => false,
    })
}
