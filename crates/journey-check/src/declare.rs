//! Pass 1: give every declaration an id, report duplicates (pointing at both places), and resolve
//! the types of contact attributes and event fields. Declarations are global across the project
//! and may be used before they are declared, so nothing is resolved against them yet.

use crate::ir::*;
use crate::types::Type;
use crate::{Checker, DefKind};
use journey_diagnostics::{Diagnostic, Span};
use journey_syntax::Symbol;
use journey_syntax::ast::{self, ItemKind};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(crate) fn declare(&mut self) {
        let modules = self.modules;
        // Enums first: attribute and field types refer to them.
        for module in modules {
            for item in &module.items {
                if let ItemKind::Enum(e) = &item.kind {
                    self.declare_enum(e, item.span, item.doc.clone());
                }
            }
        }
        let mut journey_order = 0;
        for module in modules {
            for item in &module.items {
                match &item.kind {
                    ItemKind::Contact(fields) => {
                        for field in fields {
                            self.declare_attribute(field);
                        }
                    }
                    ItemKind::Event(e) => self.declare_event(e, item.doc.clone()),
                    ItemKind::Message(m) => {
                        if let Some(id) = self.declare_name(
                            DefKind::Message,
                            m.name,
                            &format!("message {} {}", m.name.as_str(), m.channel.as_str()),
                            item.doc.clone(),
                        ) {
                            self.messages.insert(m.name.name, MessageId(id));
                            self.message_decls.push(m);
                            self.message_sent.push(false);
                            self.program.messages.push(MessageInfo {
                                name: m.name.name,
                                channel: m.channel,
                                transactional: m.transactional,
                                fields: Vec::new(),
                                span: m.name.span,
                                doc: item.doc.clone(),
                            });
                        }
                    }
                    ItemKind::Audience { name, description } => {
                        if let Some(id) = self.declare_name(
                            DefKind::Audience,
                            *name,
                            &format!("audience {} \"{}\"", name.as_str(), description.value),
                            item.doc.clone(),
                        ) {
                            self.audiences.insert(name.name, AudienceId(id));
                            self.program.audiences.push(NamedDecl { name: name.name, text: description.value.clone(), span: name.span });
                        }
                    }
                    ItemKind::Webhook { name, target } => {
                        if let Some(id) =
                            self.declare_name(DefKind::Webhook, *name, &format!("webhook {} \"{}\"", name.as_str(), target.value), item.doc.clone())
                        {
                            self.webhooks.insert(name.name, WebhookId(id));
                            self.program.webhooks.push(NamedDecl { name: name.name, text: target.value.clone(), span: name.span });
                        }
                    }
                    ItemKind::Journey(j) => {
                        let detail = match &j.title {
                            Some(t) => format!("journey {} \"{}\"", j.name.as_str(), t.value),
                            None => format!("journey {}", j.name.as_str()),
                        };
                        if let Some(id) = self.declare_name(DefKind::Journey, j.name, &detail, item.doc.clone()) {
                            self.journeys.insert(j.name.name, JourneyId(id));
                            self.journey_decls.push(j);
                            self.program.journeys.push(Journey {
                                name: j.name.name,
                                title: j.title.as_ref().map(|t| t.value.clone()),
                                kind: None,
                                entries: Vec::new(),
                                reentry: Reentry::Never,
                                exits: Vec::new(),
                                goals: Vec::new(),
                                limit_seconds: None,
                                holdout: 0,
                                priority: 0,
                                version: 0,
                                migrate: Vec::new(),
                                body: Vec::new(),
                                trigger: None,
                                predicates: Vec::new(),
                                order: journey_order,
                                span: j.name.span,
                                doc: item.doc.clone(),
                            });
                            journey_order += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The ids of messages, audiences, webhooks and journeys are their positions in the program
    /// vectors; this returns the next one, or `None` (after reporting) for a duplicate name.
    fn declare_name(&mut self, kind: DefKind, name: ast::Ident, detail: &str, doc: Option<String>) -> Option<u32> {
        let (table_len, existing) = match kind {
            DefKind::Message => (self.program.messages.len(), self.messages.get(&name.name).map(|m| m.0)),
            DefKind::Audience => (self.program.audiences.len(), self.audiences.get(&name.name).map(|m| m.0)),
            DefKind::Webhook => (self.program.webhooks.len(), self.webhooks.get(&name.name).map(|m| m.0)),
            DefKind::Journey => (self.program.journeys.len(), self.journeys.get(&name.name).map(|m| m.0)),
            _ => (0, None),
        };
        if let Some(previous) = existing {
            let previous_span = self.def_of.get(&(kind, previous)).map(|&i| self.definitions[i].span).unwrap_or_default();
            self.duplicate(kind_word(kind), name, previous_span);
            return None;
        }
        let id = table_len as u32;
        self.define(kind, id, name.name, name.span, detail.to_string(), doc);
        Some(id)
    }

    pub(crate) fn duplicate(&mut self, what: &str, name: ast::Ident, previous: Span) {
        self.emit(
            Diagnostic::error("J0120", format!("{what} `{}` is declared twice", name.as_str()), name.span)
                .with_label("declared again here")
                .with_secondary(previous, "first declared here")
                .with_help(format!("rename one of them; {what} names are global across the project")),
        );
    }

    fn declare_enum(&mut self, e: &ast::EnumDecl, _span: Span, doc: Option<String>) {
        if let Some(&previous) = self.enums.get(&e.name.name) {
            let previous_span = self.program.enums[previous.0 as usize].span;
            self.duplicate("enum", e.name, previous_span);
            return;
        }
        let id = EnumId(self.program.enums.len() as u32);
        let mut variants: Vec<Symbol> = Vec::new();
        let mut seen: HashMap<Symbol, Span> = HashMap::new();
        for variant in &e.variants {
            if let Some(&first) = seen.get(&variant.name) {
                self.emit(
                    Diagnostic::error("J0122", format!("variant `{}` is listed twice", variant.as_str()), variant.span)
                        .with_label("listed again here")
                        .with_secondary(first, "first listed here"),
                );
                continue;
            }
            seen.insert(variant.name, variant.span);
            self.define(
                DefKind::Variant,
                (id.0 << 16) | variants.len() as u32,
                variant.name,
                variant.span,
                format!("{}::{}", e.name.as_str(), variant.as_str()),
                None,
            );
            variants.push(variant.name);
        }
        let detail = format!("enum {} {{ {} }}", e.name.as_str(), variants.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "));
        self.define(DefKind::Enum, id.0, e.name.name, e.name.span, detail, doc.clone());
        self.enums.insert(e.name.name, id);
        self.enum_names.push(e.name.as_str().to_string());
        self.program.enums.push(EnumInfo { name: e.name.name, variants, span: e.name.span, doc });
    }

    fn declare_attribute(&mut self, field: &ast::Field) {
        let ty = self.resolve_type(&field.ty);
        if let Some(&previous) = self.attrs.get(&field.name.name) {
            let previous_span = self.program.attributes[previous.0 as usize].span;
            self.emit(
                Diagnostic::error("J0122", format!("contact attribute `{}` is declared twice", field.name.as_str()), field.name.span)
                    .with_label("declared again here")
                    .with_secondary(previous_span, "first declared here"),
            );
            return;
        }
        let id = AttrId(self.program.attributes.len() as u32);
        let detail = format!("contact.{}: {}", field.name.as_str(), self.type_name(&ty));
        self.define(DefKind::Attribute, id.0, field.name.name, field.name.span, detail, field.doc.clone());
        self.attrs.insert(field.name.name, id);
        self.program.attributes.push(Attribute { name: field.name.name, ty, span: field.name.span, doc: field.doc.clone() });
    }

    fn declare_event(&mut self, e: &ast::EventDecl, doc: Option<String>) {
        if let Some(&previous) = self.events.get(&e.name.name) {
            let previous_span = self.program.events[previous.0 as usize].span;
            self.duplicate("event", e.name, previous_span);
            return;
        }
        let input_name = e.alias.as_ref().map(|a| a.value.clone()).unwrap_or_else(|| e.name.as_str().to_string());
        if let Some(other) = self.program.events.iter().find(|other| other.input_name == input_name) {
            let (other_name, other_span) = (other.name, other.span);
            let span = e.alias.as_ref().map(|a| a.span).unwrap_or(e.name.span);
            self.emit(
                Diagnostic::error("J0120", format!("events `{}` and `{other_name}` share the input name \"{input_name}\"", e.name.as_str()), span)
                    .with_label("same input name")
                    .with_secondary(other_span, "also matches it")
                    .with_help("each track record must match exactly one event type; give one of them another alias"),
            );
        }
        let id = EventId(self.program.events.len() as u32);
        let mut fields: Vec<(Symbol, Type)> = Vec::new();
        let mut seen: HashMap<Symbol, Span> = HashMap::new();
        for field in &e.fields {
            let ty = self.resolve_type(&field.ty);
            if let Some(&first) = seen.get(&field.name.name) {
                self.emit(
                    Diagnostic::error("J0122", format!("field `{}` is declared twice", field.name.as_str()), field.name.span)
                        .with_label("declared again here")
                        .with_secondary(first, "first declared here"),
                );
                continue;
            }
            seen.insert(field.name.name, field.name.span);
            let detail = format!("{}.{}: {}", e.name.as_str(), field.name.as_str(), self.type_name(&ty));
            self.define(DefKind::EventField, (id.0 << 16) | fields.len() as u32, field.name.name, field.name.span, detail, field.doc.clone());
            fields.push((field.name.name, ty));
        }
        if let Some((kind, span)) = e.engagement {
            let ok = fields.iter().any(|(n, t)| n.as_str() == "message" && *t == Type::String);
            if !ok {
                self.emit(
                    Diagnostic::error("J0146", format!("engagement event `{}` has no `message: string` field", e.name.as_str()), span)
                        .with_label(format!("declared `engagement {}` here", if kind == ast::EngagementKind::Open { "open" } else { "click" }))
                        .with_help("engagement events say which message they measure: add `message: string` to its fields"),
                );
            }
        }
        let mut detail = format!("event {} \"{}\"", e.name.as_str(), input_name);
        if let Some(source) = e.source {
            detail.push_str(&format!(" from {}", source.as_str()));
        }
        self.define(DefKind::Event, id.0, e.name.name, e.name.span, detail, doc.clone());
        self.events.insert(e.name.name, id);
        self.program.events.push(EventInfo {
            name: e.name.name,
            input_name,
            source: e.source.map(|s| s.name),
            engagement: e.engagement.map(|(k, _)| k),
            fields,
            span: e.name.span,
            doc,
        });
    }

    /// Resolves a declared type (of an attribute or an event field). Lists may only be lists of
    /// strings (the input format has no other list), and an optional of an optional is
    /// meaningless.
    pub(crate) fn resolve_type(&mut self, ty: &ast::TypeExpr) -> Type {
        match ty {
            ast::TypeExpr::Named(name) => match name.as_str() {
                "bool" => Type::Bool,
                "int" => Type::Int,
                "float" => Type::Float,
                "string" => Type::String,
                "time" => Type::Time,
                "date" => Type::Date,
                "duration" => Type::Duration,
                other => match self.enums.get(&name.name) {
                    Some(&id) => {
                        self.refer(DefKind::Enum, id.0, name.span);
                        Type::Enum(id)
                    }
                    None => {
                        let mut candidates: Vec<Symbol> =
                            ["bool", "int", "float", "string", "time", "date", "duration"].iter().map(|s| Symbol::intern(s)).collect();
                        candidates.extend(crate::names(&self.enums));
                        let _ = other;
                        self.unknown(
                            "J0107",
                            "type",
                            *name,
                            candidates,
                            Some("types are bool, int, float, string, time, date, duration, an enum, [string] and T?".into()),
                        );
                        Type::Error
                    }
                },
            },
            ast::TypeExpr::List(inner, span) => {
                let inner_ty = self.resolve_type(inner);
                if inner_ty != Type::String && !inner_ty.is_error() {
                    self.emit(
                        Diagnostic::error("J0130", format!("lists of {} are not supported", self.type_name(&inner_ty)), *span)
                            .with_label("only `[string]` is supported")
                            .with_help("list attributes hold strings (list memberships, tags); use `[string]`"),
                    );
                    return Type::Error;
                }
                Type::List(Box::new(inner_ty))
            }
            ast::TypeExpr::Optional(inner, span) => {
                let inner_ty = self.resolve_type(inner);
                if inner_ty.is_optional() {
                    self.emit(Diagnostic::error("J0130", "an optional of an optional is not a type", *span).with_label("remove one `?`"));
                    return inner_ty;
                }
                Type::optional(inner_ty)
            }
            ast::TypeExpr::Error(_) => Type::Error,
        }
    }
}

fn kind_word(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Message => "message",
        DefKind::Audience => "audience",
        DefKind::Webhook => "webhook",
        DefKind::Journey => "journey",
        DefKind::Event => "event",
        DefKind::Enum => "enum",
        _ => "name",
    }
}
