//! Pass 2 for journeys and the policy: header clauses, the step tree with stable step ids, and
//! the per-journey logic checks (labels, percentages, exhaustive `match`, unreachable steps,
//! waits shadowed by `limit`, constant conditions).

use crate::ir::*;
use crate::types::Type;
use crate::{Checker, Cx, DefKind, SendSite};
use journey_diagnostics::{Diagnostic, Span};
use journey_syntax::ast::{self, ClauseKind, ItemKind};
use journey_syntax::{Symbol, WEEKDAYS};
use std::collections::HashMap;

/// State of the walk over one journey's steps.
struct Walk {
    journey: JourneyId,
    /// Pre-order position of the next step, for `s<n>` ids.
    counter: u32,
    ids: HashMap<Symbol, Span>,
    goals: Vec<Symbol>,
    limit: Option<i64>,
    /// On the current path: has a wait been passed since entry (for `enroll` cycles)?
    waited: bool,
    /// On the current path: least time that has surely passed since entry.
    elapsed: i64,
    /// On the current path: a fixed wait already outlasts the limit.
    blocked: bool,
}

impl<'a> Checker<'a> {
    pub(crate) fn resolve(&mut self) {
        self.check_message_decls();
        self.check_policy();
        let decls = self.journey_decls.clone();
        for (index, decl) in decls.iter().enumerate() {
            self.check_journey(JourneyId(index as u32), decl);
        }
        self.check_tests();
    }

    fn check_policy(&mut self) {
        let modules = self.modules;
        let mut first_policy: Option<Span> = None;
        for module in modules {
            for item in &module.items {
                let ItemKind::Policy(items) = &item.kind else { continue };
                let head = Span { end: item.span.start + 6, ..item.span };
                if let Some(first) = first_policy {
                    self.emit(
                        Diagnostic::error("J0147", "the project has more than one `policy` block", head)
                            .with_label("second policy")
                            .with_secondary(first, "first policy")
                            .with_help("policies are portfolio-wide: merge them into one block"),
                    );
                    continue;
                }
                first_policy = Some(head);
                let mut seen: HashMap<String, Span> = HashMap::new();
                for policy_item in items {
                    let (key, span) = match policy_item {
                        ast::PolicyItem::Timezone(e) => ("timezone".to_string(), e.span),
                        ast::PolicyItem::QuietHours { span, .. } => ("quiet_hours".to_string(), *span),
                        ast::PolicyItem::Cap { channel, span, .. } => (format!("cap {}", channel.as_str()), *span),
                        ast::PolicyItem::Error(_) => continue,
                    };
                    if let Some(&first) = seen.get(&key) {
                        self.emit(
                            Diagnostic::error("J0147", format!("`{key}` is set twice in the policy"), span)
                                .with_label("set again here")
                                .with_secondary(first, "first set here"),
                        );
                        continue;
                    }
                    seen.insert(key, span);
                    match policy_item {
                        ast::PolicyItem::Timezone(e) => {
                            let cx = Cx { no_trigger_reason: "the policy applies to every journey", ..Cx::default() };
                            let checked = self.expr(e, &cx, Some(&Type::optional(Type::String)));
                            let checked = self.coerce(checked, &Type::optional(Type::String), "`timezone`");
                            self.program.policy.timezone = Some(checked);
                        }
                        ast::PolicyItem::QuietHours { start, end, span } => {
                            if start.minutes == end.minutes {
                                self.emit(
                                    Diagnostic::error("J0147", "quiet hours start and end at the same time", *span)
                                        .with_label("empty interval")
                                        .with_help("quiet hours are the local interval [start, end); remove the line to have none"),
                                );
                            }
                            self.program.policy.quiet_hours = Some((start.minutes, end.minutes));
                        }
                        ast::PolicyItem::Cap { channel, count, per, span, .. } => {
                            if *count < 1 || *count > u32::MAX as i64 || per.seconds <= 0 {
                                self.emit(
                                    Diagnostic::error("J0147", "a cap needs a positive count and window", *span)
                                        .with_label("never satisfiable")
                                        .with_help("write e.g. `cap email 3 per 7d`"),
                                );
                                continue;
                            }
                            self.program.policy.caps.push(Cap { channel: *channel, count: *count as u32, window_seconds: per.seconds, span: *span });
                        }
                        ast::PolicyItem::Error(_) => {}
                    }
                }
            }
        }
    }

    fn check_journey(&mut self, id: JourneyId, decl: &ast::JourneyDecl) {
        // The trigger is typed only when every entry is `entry on` the same event.
        let entry_events: Vec<Option<EventId>> = decl
            .clauses
            .iter()
            .filter_map(|c| match &c.kind {
                ClauseKind::EntryOn { event, .. } => Some(self.events.get(&event.name).copied()),
                ClauseKind::EntryWhen(_) | ClauseKind::EntryAt { .. } | ClauseKind::EntryEvery { .. } => Some(None),
                _ => None,
            })
            .collect();
        let (trigger, no_trigger_reason) = match entry_events.first() {
            None => (None, "the journey has no `entry on` clause"),
            Some(first) if first.is_some() && entry_events.iter().all(|e| e == first) => (*first, ""),
            Some(_) => (None, "the journey's entries are not all `entry on` the same event"),
        };
        let cx = Cx { journey: Some(id), trigger, no_trigger_reason, ..Cx::default() };
        self.program.journeys[id.0 as usize].trigger = trigger;

        let mut seen_clauses: HashMap<&'static str, Span> = HashMap::new();
        let mut goals: Vec<Symbol> = Vec::new();
        let mut goal_spans: HashMap<Symbol, Span> = HashMap::new();
        let mut has_recurring = false;
        let mut explicit_reentry = None;
        let mut migrate_entries: Vec<&ast::MigrateEntry> = Vec::new();
        for clause in &decl.clauses {
            let single = match &clause.kind {
                ClauseKind::Kind(_) => Some("kind"),
                ClauseKind::Reentry(_) => Some("reentry"),
                ClauseKind::Limit(_) => Some("limit"),
                ClauseKind::Holdout(_) => Some("holdout"),
                ClauseKind::Priority(_) => Some("priority"),
                ClauseKind::Version(_) => Some("version"),
                ClauseKind::Migrate(_) => Some("migrate"),
                _ => None,
            };
            if let Some(word) = single {
                if let Some(&first) = seen_clauses.get(word) {
                    self.emit(
                        Diagnostic::error("J0122", format!("`{word}` is given twice"), clause.span)
                            .with_label("given again here")
                            .with_secondary(first, "first given here"),
                    );
                    continue;
                }
                seen_clauses.insert(word, clause.span);
            }
            match &clause.kind {
                ClauseKind::Kind(kind) => {
                    const KINDS: &[&str] = &["lifecycle", "behavioral", "promotional", "operational"];
                    if !KINDS.contains(&kind.as_str()) {
                        let meant = Self::meant(kind.as_str(), KINDS.iter().copied());
                        self.emit(
                            Diagnostic::error("J0137", format!("unknown journey kind `{}`", kind.as_str()), kind.span)
                                .with_label("not a kind")
                                .with_suggestion(meant, || Some(format!("kinds are {}", KINDS.join(", ")))),
                        );
                    }
                    self.program.journeys[id.0 as usize].kind = Some(kind.name);
                }
                ClauseKind::EntryOn { event, cond } => {
                    if let Some(event_id) = self.lookup_event(*event) {
                        let filter = cond.as_ref().map(|c| self.condition(c, &Cx { event: Some(event_id), ..cx.clone() }));
                        self.program.journeys[id.0 as usize].entries.push(Entry { kind: EntryKind::On(event_id), filter, span: clause.span });
                    }
                }
                ClauseKind::EntryWhen(cond) => {
                    let c = self.condition(cond, &cx);
                    self.program.journeys[id.0 as usize].entries.push(Entry { kind: EntryKind::When(c), filter: None, span: clause.span });
                }
                ClauseKind::EntryAt { at, cond } => {
                    let at = self.expect_type(at, &cx, &Type::optional(Type::Time), "`entry at`");
                    let filter = cond.as_ref().map(|c| self.condition(c, &cx));
                    self.program.journeys[id.0 as usize].entries.push(Entry { kind: EntryKind::At(at), filter, span: clause.span });
                }
                ClauseKind::EntryEvery { schedule, cond } => {
                    has_recurring = true;
                    let kind = match schedule {
                        ast::Schedule::Daily(at) => EntryKind::Daily { minutes: at.minutes },
                        ast::Schedule::Weekly { weekday, at } => EntryKind::Weekly {
                            weekday: WEEKDAYS.iter().position(|d| *d == weekday.as_str()).unwrap_or(0) as u32,
                            minutes: at.minutes,
                        },
                        ast::Schedule::Interval(d) => {
                            if d.seconds <= 0 {
                                self.emit(
                                    Diagnostic::error("J0138", "a recurring interval must be longer than zero", d.span).with_label("zero interval"),
                                );
                            } else if d.seconds < 3_600 {
                                // Every contact is woken this often; over a month of input that
                                // is hundreds of thousands of timers each (the runtime stops a
                                // journey's timers for the run past 250,000).
                                self.emit(
                                    Diagnostic::warning(
                                        "J0210",
                                        format!("`entry every {}` wakes every contact {} times a day", human_duration(d.seconds), 86_400 / d.seconds),
                                        d.span,
                                    )
                                    .with_label("shorter than an hour")
                                    .with_help(
                                        "recurring entries are for schedules (`every 1d`, `every monday at 09:00`); to act when something happens, use `entry on <event>` or `entry when <condition>`",
                                    ),
                                );
                            }
                            EntryKind::Interval { seconds: d.seconds.max(1) }
                        }
                        ast::Schedule::Yearly { date, at } => {
                            let date = self.expect_type(date, &cx, &Type::optional(Type::Date), "`every year on`");
                            EntryKind::Yearly { date, minutes: at.minutes }
                        }
                    };
                    let filter = cond.as_ref().map(|c| self.condition(c, &cx));
                    self.program.journeys[id.0 as usize].entries.push(Entry { kind, filter, span: clause.span });
                }
                ClauseKind::Reentry(r) => {
                    explicit_reentry = Some(match r {
                        ast::Reentry::Never => Reentry::Never,
                        ast::Reentry::Always => Reentry::Always,
                        ast::Reentry::After(d) => Reentry::AfterSeconds(d.seconds),
                    });
                }
                ClauseKind::ExitOn { event, cond } => {
                    if let Some(event_id) = self.lookup_event(*event) {
                        let filter = cond.as_ref().map(|c| self.condition(c, &Cx { event: Some(event_id), ..cx.clone() }));
                        self.program.journeys[id.0 as usize].exits.push(ExitOn { event: event_id, filter, span: clause.span });
                    }
                }
                ClauseKind::GoalOn { name, event, cond } => {
                    if self.declare_goal(id, *name, &mut goal_spans) {
                        goals.push(name.name);
                    }
                    if let Some(event_id) = self.lookup_event(*event) {
                        let filter = cond.as_ref().map(|c| self.condition(c, &Cx { event: Some(event_id), ..cx.clone() }));
                        if let Some(f) = &filter {
                            self.constant_goal(name, f);
                        }
                        self.program.journeys[id.0 as usize].goals.push(Goal {
                            name: name.name,
                            kind: GoalKind::On { event: event_id, filter },
                            span: clause.span,
                        });
                    }
                }
                ClauseKind::GoalWhen { name, cond } => {
                    if self.declare_goal(id, *name, &mut goal_spans) {
                        goals.push(name.name);
                    }
                    let c = self.condition(cond, &cx);
                    self.constant_goal(name, &c);
                    self.program.journeys[id.0 as usize].goals.push(Goal { name: name.name, kind: GoalKind::When(c), span: clause.span });
                }
                ClauseKind::Limit(d) => {
                    if d.seconds <= 0 {
                        self.emit(
                            Diagnostic::error("J0138", "`limit` must be longer than zero", d.span).with_label("every contact would leave at once"),
                        );
                    }
                    self.program.journeys[id.0 as usize].limit_seconds = Some(d.seconds);
                }
                ClauseKind::Holdout(p) => self.program.journeys[id.0 as usize].holdout = p.basis_points,
                ClauseKind::Priority(p) => self.program.journeys[id.0 as usize].priority = *p,
                ClauseKind::Version(v) => self.program.journeys[id.0 as usize].version = *v,
                ClauseKind::Migrate(entries) => migrate_entries.extend(entries.iter()),
            }
        }
        let journey = &mut self.program.journeys[id.0 as usize];
        journey.reentry = explicit_reentry.unwrap_or(if has_recurring { Reentry::Always } else { Reentry::Never });
        let limit = journey.limit_seconds;

        let mut walk = Walk { journey: id, counter: 0, ids: HashMap::new(), goals, limit, waited: false, elapsed: 0, blocked: false };
        let body = self.steps(&decl.body, &mut walk, &cx);
        let journey = &mut self.program.journeys[id.0 as usize];
        journey.body = body;
        if walk.blocked && journey.goals.is_empty() && journey.exits.is_empty() {
            let (name, limit) = (journey.name, journey.limit_seconds.unwrap_or(0));
            self.emit(
                Diagnostic::warning("J0203", format!("journey `{name}` can only end by its `limit`"), decl.name.span)
                    .with_label("no exit path")
                    .with_help(format!(
                        "every path waits past the limit ({}); add a goal, an `exit on`, or shorten the waits",
                        human_duration(limit)
                    )),
            );
        }
        if decl.body.is_empty() {
            let name = decl.name.name;
            self.emit(
                Diagnostic::warning("J0213", format!("journey `{name}` has no steps"), decl.name.span)
                    .with_label("a contact that enters leaves at once, reason `completed`, having done nothing")
                    .with_help("write its steps after the header clauses (`send <message>`, `wait 2d`, `if …`); to keep contacts in it while a goal can fire, `wait` (e.g. `wait 30d`)"),
            );
        }
        self.check_migrations(id, &migrate_entries, &walk.ids);
    }

    fn lookup_event(&mut self, event: ast::Ident) -> Option<EventId> {
        match self.events.get(&event.name).copied() {
            Some(id) => {
                self.refer(DefKind::Event, id.0, event.span);
                Some(id)
            }
            None => {
                let c = crate::names(&self.events);
                self.unknown("J0102", "event", event, c, Some("events are declared with `event <name> \"Input Name\" { … }`".into()));
                None
            }
        }
    }

    fn declare_goal(&mut self, journey: JourneyId, name: ast::Ident, spans: &mut HashMap<Symbol, Span>) -> bool {
        if let Some(&first) = spans.get(&name.name) {
            self.emit(
                Diagnostic::error("J0122", format!("goal `{}` is declared twice", name.as_str()), name.span)
                    .with_label("declared again here")
                    .with_secondary(first, "first declared here"),
            );
            return false;
        }
        spans.insert(name.name, name.span);
        let journey_name = self.program.journeys[journey.0 as usize].name;
        self.define(
            DefKind::Goal,
            (journey.0 << 16) | spans.len() as u32,
            name.name,
            name.span,
            format!("goal {} of journey {journey_name}", name.as_str()),
            None,
        );
        true
    }

    fn constant_goal(&mut self, name: &ast::Ident, cond: &Expr) {
        if is_constant(cond) {
            self.emit(
                Diagnostic::warning("J0204", format!("goal `{}` has a constant condition", name.as_str()), cond.span)
                    .with_label("does not depend on the contact or the event")
                    .with_help("a goal that is always or never met measures nothing; test an attribute, an event field or behaviour"),
            );
        }
    }

    fn next_id(&mut self, step: &ast::Step, w: &mut Walk) -> (Symbol, bool) {
        w.counter += 1;
        let (id, labelled) = match step.label {
            Some(label) => (label.name, true),
            None => (Symbol::intern(&format!("s{}", w.counter)), false),
        };
        let span = step.label.map(|l| l.span).unwrap_or(step.span);
        if let Some(&first) = w.ids.get(&id) {
            self.emit(
                Diagnostic::error("J0121", format!("step id `{id}` is used twice in this journey"), span)
                    .with_label("used again here")
                    .with_secondary(first, "first used here")
                    .with_help(
                        "labels are stable step ids and must be unique within a journey (unlabelled steps are named `s1`, `s2`, … by position)",
                    ),
            );
        } else {
            w.ids.insert(id, span);
            if labelled {
                let journey_name = self.program.journeys[w.journey.0 as usize].name;
                self.define(DefKind::Step, (w.journey.0 << 16) | w.counter, id, span, format!("step {id} of journey {journey_name}"), None);
            }
        }
        (id, labelled)
    }

    fn steps(&mut self, steps: &[ast::Step], w: &mut Walk, cx: &Cx) -> Vec<Step> {
        let mut out: Vec<Step> = Vec::new();
        let mut warned_unreachable = false;
        for step in steps {
            if !warned_unreachable && out.last().is_some_and(always_exits) {
                warned_unreachable = true;
                self.emit(
                    Diagnostic::warning("J0201", "unreachable step", step.span)
                        .with_label("no contact ever gets here")
                        .with_help("every path before this step leaves the journey; remove it or move it before the `exit`"),
                );
            }
            if matches!(step.kind, ast::StepKind::Error) {
                continue;
            }
            let (id, labelled) = self.next_id(step, w);
            if let Some(kind) = self.step(step, id, w, cx) {
                out.push(Step { id, labelled, kind, span: step.span });
            }
        }
        out
    }

    /// Runs `f` once per branch from the same path state, then merges: a wait counts only if
    /// every branch waited; elapsed time is the least of the branches.
    fn branches<T>(&mut self, w: &mut Walk, items: Vec<T>, mut f: impl FnMut(&mut Self, &mut Walk, T) -> Vec<Step>) -> Vec<Vec<Step>> {
        let (waited, elapsed, blocked) = (w.waited, w.elapsed, w.blocked);
        let (mut all_waited, mut min_elapsed, mut all_blocked) = (true, i64::MAX, true);
        let mut results = Vec::new();
        for item in items {
            w.waited = waited;
            w.elapsed = elapsed;
            w.blocked = blocked;
            results.push(f(self, w, item));
            all_waited &= w.waited;
            min_elapsed = min_elapsed.min(w.elapsed);
            all_blocked &= w.blocked;
        }
        if !results.is_empty() {
            w.waited = all_waited;
            w.elapsed = min_elapsed;
            w.blocked = all_blocked;
        }
        results
    }

    fn step(&mut self, step: &ast::Step, id: Symbol, w: &mut Walk, cx: &Cx) -> Option<StepKind> {
        use ast::StepKind as S;
        Some(match &step.kind {
            S::Send(message) => {
                let journey_name = self.program.journeys[w.journey.0 as usize].name;
                match self.messages.get(&message.name).copied() {
                    Some(m) => {
                        self.refer(DefKind::Message, m.0, message.span);
                        self.sends.push(SendSite { journey: journey_name, step: id, message: message.name, span: step.span, declared: true });
                        let fields = self.message_fields(m, cx, step.span);
                        StepKind::Send { message: m, fields }
                    }
                    None => {
                        self.sends.push(SendSite { journey: journey_name, step: id, message: message.name, span: step.span, declared: false });
                        let c = crate::names(&self.messages);
                        self.unknown(
                            "J0103",
                            "message",
                            *message,
                            c,
                            Some("declare it with `message <name> email { … }` — a send without content is a content gap".into()),
                        );
                        return None;
                    }
                }
            }
            S::Sync { audience, op } => match self.audiences.get(&audience.name).copied() {
                Some(a) => {
                    self.refer(DefKind::Audience, a.0, audience.span);
                    StepKind::Sync { audience: a, op: *op }
                }
                None => {
                    let c = crate::names(&self.audiences);
                    self.unknown("J0104", "audience", *audience, c, Some("declare it with `audience <name> \"Description\"`".into()));
                    return None;
                }
            },
            S::Webhook(name) => match self.webhooks.get(&name.name).copied() {
                Some(h) => {
                    self.refer(DefKind::Webhook, h.0, name.span);
                    StepKind::Webhook(h)
                }
                None => {
                    let c = crate::names(&self.webhooks);
                    self.unknown("J0105", "webhook", *name, c, Some("declare it with `webhook <name> \"POST https://…\"`".into()));
                    return None;
                }
            },
            S::Set { attribute, value } => match self.attrs.get(&attribute.name).copied() {
                Some(a) => {
                    self.refer(DefKind::Attribute, a.0, attribute.span);
                    let ty = self.program.attributes[a.0 as usize].ty.clone();
                    let value = self.expect_type(value, cx, &ty, &format!("`contact.{}`", attribute.as_str()));
                    StepKind::Set { attribute: a, value }
                }
                None => {
                    let c = crate::names(&self.attrs);
                    self.unknown("J0101", "contact attribute", *attribute, c, None);
                    return None;
                }
            },
            S::Enroll(target) => match self.journeys.get(&target.name).copied() {
                Some(j) => {
                    self.refer(DefKind::Journey, j.0, target.span);
                    self.enrolls.push((w.journey, j, step.span, !w.waited));
                    StepKind::Enroll(j)
                }
                None => {
                    let c = crate::names(&self.journeys);
                    self.unknown("J0106", "journey", *target, c, None);
                    return None;
                }
            },
            S::WaitFor(d) => {
                self.shadowed(w, d.seconds, step.span, "this wait");
                w.elapsed = w.elapsed.saturating_add(d.seconds);
                if w.limit.is_some_and(|l| w.elapsed >= l) {
                    w.blocked = true;
                }
                w.waited = true;
                StepKind::WaitDuration { seconds: d.seconds }
            }
            S::WaitUntil(e) => {
                let checked = self.expect_type(e, cx, &Type::Time, "`wait until`");
                w.waited = true;
                StepKind::WaitUntil(checked)
            }
            S::WaitUntilClock { weekday, at } => {
                w.waited = true;
                StepKind::WaitClock {
                    weekday: weekday.map(|d| match WEEKDAYS.iter().position(|x| *x == d.as_str()) {
                        Some(i) => i as u32,
                        None => {
                            let meant = Self::meant(d.as_str(), WEEKDAYS.iter().copied());
                            self.emit(
                                Diagnostic::error("J0137", format!("`{}` is not a weekday", d.as_str()), d.span)
                                    .with_label("expected a weekday")
                                    .with_suggestion(meant, || Some(format!("weekdays are {}", WEEKDAYS.join(", ")))),
                            );
                            0
                        }
                    }),
                    minutes: at.minutes,
                }
            }
            S::WaitEvent { event, cond, within, on_event, on_timeout } => {
                let event_id = self.lookup_event(*event)?;
                let filter = cond.as_ref().map(|c| self.condition(c, &Cx { event: Some(event_id), ..cx.clone() }));
                self.shadowed(w, within.seconds, step.span, "this wait's window");
                w.waited = true;
                let event_cx = Cx { event: Some(event_id), ..cx.clone() };
                let start = w.elapsed;
                let within_seconds = within.seconds;
                let mut results =
                    self.branches(w, vec![(on_event.as_deref(), 0), (on_timeout.as_deref(), within_seconds)], |this, w, (body, delay)| {
                        w.elapsed = start.saturating_add(delay);
                        match body {
                            Some(b) => this.steps(b, w, if delay == 0 { &event_cx } else { cx }),
                            None => Vec::new(),
                        }
                    });
                let on_timeout = results.pop().unwrap_or_default();
                let on_event = results.pop().unwrap_or_default();
                StepKind::WaitEvent { event: event_id, filter, within_seconds, on_event, on_timeout }
            }
            S::WaitCondition { cond, within, on_met, on_timeout } => {
                let condition = self.condition(cond, cx);
                self.shadowed(w, within.seconds, step.span, "this wait's window");
                w.waited = true;
                let start = w.elapsed;
                let within_seconds = within.seconds;
                let mut results =
                    self.branches(w, vec![(on_met.as_deref(), 0), (on_timeout.as_deref(), within_seconds)], |this, w, (body, delay)| {
                        w.elapsed = start.saturating_add(delay);
                        body.map(|b| this.steps(b, w, cx)).unwrap_or_default()
                    });
                let on_timeout = results.pop().unwrap_or_default();
                let on_met = results.pop().unwrap_or_default();
                StepKind::WaitCondition { condition, within_seconds, on_met, on_timeout }
            }
            S::If { branches, otherwise } => {
                let conditions: Vec<Expr> = branches
                    .iter()
                    .map(|(c, _)| {
                        let checked = self.condition(c, cx);
                        if is_constant(&checked) {
                            self.emit(
                                Diagnostic::warning("J0202", "this condition is constant", checked.span)
                                    .with_label("does not depend on the contact")
                                    .with_help("the same branch is taken for every contact; remove the `if` or test an attribute or behaviour"),
                            );
                        }
                        checked
                    })
                    .collect();
                let mut bodies: Vec<Option<&[ast::Step]>> = branches.iter().map(|(_, b)| Some(b.as_slice())).collect();
                // Without `else`, one path skips every branch.
                bodies.push(otherwise.as_deref().or(Some(&[])));
                let mut results = self.branches(w, bodies, |this, w, body| body.map(|b| this.steps(b, w, cx)).unwrap_or_default());
                let otherwise = results.pop().unwrap_or_default();
                StepKind::If { branches: conditions.into_iter().zip(results).collect(), otherwise }
            }
            S::Match { scrutinee, arms } => self.match_step(scrutinee, arms, w, cx)?,
            S::Split { arms } => {
                self.check_shares(arms, step.span, "split");
                let names: Vec<Symbol> = (1..=arms.len()).map(|i| Symbol::intern(&i.to_string())).collect();
                let bodies = self.branches(w, arms.iter().collect(), |this, w, arm| this.steps(&arm.body, w, cx));
                StepKind::Split {
                    arms: arms.iter().zip(names).zip(bodies).map(|((a, name), body)| Arm { name, share: a.share.basis_points, body }).collect(),
                }
            }
            S::Experiment { name, measure, arms } => {
                self.check_shares(arms, step.span, "experiment");
                let arm_names: Vec<Symbol> = arms.iter().filter_map(|a| a.name.map(|n| n.name)).collect();
                let mut seen: HashMap<Symbol, Span> = HashMap::new();
                for arm in arms {
                    if let Some(n) = arm.name {
                        if let Some(&first) = seen.get(&n.name) {
                            self.emit(
                                Diagnostic::error("J0122", format!("arm `{}` appears twice", n.as_str()), n.span)
                                    .with_label("again here")
                                    .with_secondary(first, "first here"),
                            );
                        }
                        seen.insert(n.name, n.span);
                    }
                }
                if let Some((first, _)) = self.experiments.get(&name.name) {
                    let first = *first;
                    self.duplicate("experiment", *name, first);
                } else {
                    self.experiments.insert(name.name, (name.span, arm_names.clone()));
                    self.define(
                        DefKind::Experiment,
                        self.experiments.len() as u32,
                        name.name,
                        name.span,
                        format!("experiment {} ({})", name.as_str(), arm_names.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")),
                        None,
                    );
                }
                match measure {
                    Some(goal) if !w.goals.contains(&goal.name) => {
                        let candidates = w.goals.clone();
                        self.unknown(
                            "J0112",
                            "goal",
                            *goal,
                            candidates,
                            Some("goals are declared in the journey header: `goal <name> on <event>`".into()),
                        );
                    }
                    None if w.goals.is_empty() => {
                        self.emit(
                            Diagnostic::warning("J0208", format!("experiment `{}` has no goal to measure", name.as_str()), name.span)
                                .with_label("conversion cannot be reported")
                                .with_help("declare a goal in the journey header (`goal converted on purchase`), or name one with `measure`"),
                        );
                    }
                    _ => {}
                }
                let bodies = self.branches(w, arms.iter().collect(), |this, w, arm| this.steps(&arm.body, w, cx));
                StepKind::Experiment {
                    name: name.name,
                    measure: measure.map(|m| m.name),
                    arms: arms
                        .iter()
                        .zip(bodies)
                        .map(|(a, body)| Arm { name: a.name.map(|n| n.name).unwrap_or(id), share: a.share.basis_points, body })
                        .collect(),
                }
            }
            S::Exit(reason) => StepKind::Exit { reason: reason.as_ref().map(|r| r.value.clone()).unwrap_or_else(|| "exit".into()) },
            S::Error => return None,
        })
    }

    fn match_step(&mut self, scrutinee: &ast::Expr, arms: &[ast::MatchArm], w: &mut Walk, cx: &Cx) -> Option<StepKind> {
        let checked = self.expr(scrutinee, cx, None);
        let enum_id = match &checked.ty {
            Type::Enum(e) => Some(*e),
            Type::Error => None,
            other => {
                if other.is_optional() {
                    self.optional_misuse(&checked, "in `match`");
                } else {
                    let ty = self.type_name(other);
                    self.emit(
                        Diagnostic::error("J0130", format!("`match` needs an enum, found `{ty}`"), checked.span)
                            .with_label(format!("this is `{ty}`"))
                            .with_help("use `if … else if …` to branch on other values"),
                    );
                }
                None
            }
        };
        let variants = enum_id.map(|e| self.program.enums[e.0 as usize].variants.clone()).unwrap_or_default();
        let mut covered: HashMap<u32, Span> = HashMap::new();
        let mut has_wildcard = false;
        let mut arm_patterns: Vec<Vec<u32>> = Vec::new();
        for arm in arms {
            let mut patterns = Vec::new();
            if arm.wildcard {
                has_wildcard = true;
            }
            for pattern in &arm.patterns {
                let Some(e) = enum_id else { continue };
                match variants.iter().position(|v| *v == pattern.name) {
                    Some(index) => {
                        let index = index as u32;
                        self.refer(DefKind::Variant, (e.0 << 16) | index, pattern.span);
                        if let Some(&first) = covered.get(&index) {
                            self.emit(
                                Diagnostic::error("J0122", format!("`{}` is matched twice", pattern.as_str()), pattern.span)
                                    .with_label("matched again here")
                                    .with_secondary(first, "first matched here"),
                            );
                        }
                        covered.insert(index, pattern.span);
                        patterns.push(index);
                    }
                    None => {
                        let enum_name = self.enum_names[e.0 as usize].clone();
                        let meant = Self::meant(pattern.as_str(), variants.iter().map(|v| v.as_str()));
                        self.emit(
                            Diagnostic::error("J0108", format!("`{}` is not a variant of `{enum_name}`", pattern.as_str()), pattern.span)
                                .with_label("unknown variant")
                                .with_suggestion(meant, || {
                                    Some(format!("`{enum_name}` has {}", variants.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")))
                                }),
                        );
                    }
                }
            }
            arm_patterns.push(patterns);
        }
        if let Some(e) = enum_id {
            let missing: Vec<String> =
                variants.iter().enumerate().filter(|(i, _)| !covered.contains_key(&(*i as u32))).map(|(_, v)| format!("`{v}`")).collect();
            if !has_wildcard && !missing.is_empty() {
                let enum_name = self.enum_names[e.0 as usize].clone();
                self.emit(
                    Diagnostic::error("J0143", format!("`match` on `{enum_name}` does not cover {}", missing.join(", ")), checked.span)
                        .with_label("not exhaustive")
                        .with_help(format!("add arms for {} or a `_ => {{ … }}` arm", missing.join(", "))),
                );
            }
        }
        let bodies = self.branches(w, arms.iter().collect(), |this, w, arm| this.steps(&arm.body, w, cx));
        Some(StepKind::Match { scrutinee: checked, arms: arm_patterns.into_iter().zip(bodies).collect() })
    }

    fn check_shares(&mut self, arms: &[ast::Arm], span: Span, what: &str) {
        let total: u32 = arms.iter().map(|a| a.share.basis_points).sum();
        if total != 10_000 {
            let head = Span { end: span.start + what.len() as u32, ..span };
            let mut d = Diagnostic::error("J0142", format!("{what} shares add up to {}, not 100%", percent_text(total)), head)
                .with_label(format!("{} in total", percent_text(total)))
                .with_help("the arms' percentages must add up to exactly 100%");
            for arm in arms {
                d = d.with_secondary(arm.share.span, "");
            }
            self.emit(d);
        }
    }

    fn shadowed(&mut self, w: &Walk, seconds: i64, span: Span, what: &str) {
        if let Some(limit) = w.limit
            && !w.blocked
            && w.elapsed.saturating_add(seconds) >= limit
        {
            self.emit(
                Diagnostic::warning("J0207", format!("{what} ends after the journey's limit"), span)
                    .with_label(format!("ends at least {} after entry", human_duration(w.elapsed.saturating_add(seconds))))
                    .with_help(format!("contacts leave by `limit {}` first; shorten the wait or raise the limit", human_duration(limit))),
            );
        }
    }

    fn check_migrations(&mut self, id: JourneyId, entries: &[&ast::MigrateEntry], ids: &HashMap<Symbol, Span>) {
        let mut seen: HashMap<Symbol, Span> = HashMap::new();
        for entry in entries {
            if let Some(&first) = seen.get(&entry.from.name) {
                self.emit(
                    Diagnostic::error("J0122", format!("step `{}` is migrated twice", entry.from.as_str()), entry.from.span)
                        .with_label("again here")
                        .with_secondary(first, "first here"),
                );
                continue;
            }
            seen.insert(entry.from.name, entry.from.span);
            if ids.contains_key(&entry.from.name) {
                self.emit(
                    Diagnostic::warning("J0209", format!("step `{}` still exists; this mapping never applies", entry.from.as_str()), entry.from.span)
                        .with_label("still in the journey")
                        .with_help("contacts waiting at a step that still exists keep their place; remove the mapping"),
                );
            }
            let to = match &entry.to {
                ast::MigrateTarget::Step(step) => {
                    if !ids.contains_key(&step.name) {
                        let candidates: Vec<Symbol> = ids.keys().copied().collect();
                        self.unknown("J0113", "step", *step, candidates, Some("migrations map old step ids to steps of the current version".into()));
                    }
                    MigrationTarget::Step(step.name)
                }
                ast::MigrateTarget::Exit(reason) => MigrationTarget::Exit(reason.as_ref().map(|r| r.value.clone()).unwrap_or_else(|| "exit".into())),
            };
            self.program.journeys[id.0 as usize].migrate.push(Migration { from: entry.from.name, to, span: entry.span });
        }
    }
}

/// Whether every path through this step leaves the journey.
fn always_exits(step: &Step) -> bool {
    fn block(steps: &[Step]) -> bool {
        steps.iter().any(always_exits)
    }
    match &step.kind {
        StepKind::Exit { .. } => true,
        StepKind::If { branches, otherwise } => branches.iter().all(|(_, b)| block(b)) && block(otherwise),
        StepKind::Match { arms, .. } => !arms.is_empty() && arms.iter().all(|(_, b)| block(b)),
        StepKind::Split { arms } | StepKind::Experiment { arms, .. } => !arms.is_empty() && arms.iter().all(|a| block(&a.body)),
        StepKind::WaitEvent { on_event, on_timeout, .. } => block(on_event) && block(on_timeout),
        StepKind::WaitCondition { on_met, on_timeout, .. } => block(on_met) && block(on_timeout),
        _ => false,
    }
}

/// An expression that reads nothing about the contact, the event or the clock.
pub(crate) fn is_constant(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::None
        | ExprKind::Duration(_)
        | ExprKind::Instant(_)
        | ExprKind::Date(_)
        | ExprKind::Variant(..) => true,
        ExprKind::List(items) => items.iter().all(is_constant),
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::IntToFloat(x) => is_constant(x),
        ExprKind::Binary(_, a, b) | ExprKind::Logic(_, a, b) => is_constant(a) && is_constant(b),
        ExprKind::Call(_, args) => args.iter().all(is_constant),
        _ => false,
    }
}

pub(crate) fn human_duration(seconds: i64) -> String {
    let mut rest = seconds;
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if parts.is_empty() { "0s".into() } else { parts.join(" ") }
}

use journey_bytecode::percent_text;
