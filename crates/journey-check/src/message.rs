//! Messages: required and known fields per channel (LANGUAGE.md §3), and template type checking
//! at every `send`, in the context of the journey that sends it — so `{trigger.sku}` is checked
//! against each sending journey's entry event, and an error shows where it was sent from.

use crate::ir::*;
use crate::{Checker, Cx};
use journey_diagnostics::Diagnostic;
use journey_syntax::Symbol;
use journey_syntax::ast::Channel;
use std::collections::HashMap;

/// (required, optional) fields of each channel.
pub(crate) fn channel_fields(channel: Channel) -> (&'static [&'static str], &'static [&'static str]) {
    match channel {
        Channel::Email => (&["subject", "template"], &["preheader", "body"]),
        Channel::Sms => (&["body"], &[]),
        Channel::Push => (&["title", "body"], &[]),
    }
}

impl<'a> Checker<'a> {
    pub(crate) fn check_message_decls(&mut self) {
        let decls = self.message_decls.clone();
        for decl in decls {
            let (required, optional) = channel_fields(decl.channel);
            let mut seen: HashMap<Symbol, journey_diagnostics::Span> = HashMap::new();
            // Required fields an unknown field was probably meant to be (`templat`): said there,
            // not again as missing.
            let mut misspelt: Vec<&str> = Vec::new();
            for field in &decl.fields {
                let name = field.name.as_str();
                if let Some(&first) = seen.get(&field.name.name) {
                    self.emit(
                        Diagnostic::error("J0122", format!("field `{name}` is given twice"), field.name.span)
                            .with_label("given again here")
                            .with_secondary(first, "first given here"),
                    );
                    continue;
                }
                seen.insert(field.name.name, field.name.span);
                if !required.contains(&name) && !optional.contains(&name) {
                    let all: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
                    let meant = Self::meant(name, all.iter().copied());
                    if let Some(m) = meant
                        && let Some(r) = required.iter().find(|r| **r == m)
                    {
                        misspelt.push(r);
                    }
                    self.emit(
                        Diagnostic::error("J0141", format!("{} messages have no field `{name}`", decl.channel.as_str()), field.name.span)
                            .with_label("unknown field")
                            .with_suggestion(meant, || {
                                Some(format!(
                                    "{} messages have {}",
                                    decl.channel.as_str(),
                                    all.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                                ))
                            }),
                    );
                }
            }
            let missing: Vec<String> =
                required.iter().filter(|r| !seen.keys().any(|k| k.as_str() == **r) && !misspelt.contains(*r)).map(|r| format!("`{r}`")).collect();
            if !missing.is_empty() {
                self.emit(
                    Diagnostic::error("J0140", format!("message `{}` is missing {}", decl.name.as_str(), missing.join(" and ")), decl.name.span)
                        .with_label(format!("{} message", decl.channel.as_str()))
                        .with_help(format!(
                            "{} messages need {}",
                            decl.channel.as_str(),
                            required.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(" and ")
                        )),
                );
            }
        }
    }

    /// Type-checks a message's fields for one send site.
    pub(crate) fn message_fields(&mut self, message: MessageId, cx: &Cx, send_span: journey_diagnostics::Span) -> Vec<(Symbol, Template)> {
        self.message_sent[message.0 as usize] = true;
        let decl = self.message_decls[message.0 as usize];
        let before = self.diagnostics.len();
        let fields: Vec<(Symbol, Template)> = decl.fields.iter().map(|f| (f.name.name, self.template(&f.value, cx))).collect();
        if let Some(journey) = cx.journey {
            let journey_name = self.program.journeys[journey.0 as usize].name;
            for d in &mut self.diagnostics[before..] {
                d.secondary.push(journey_diagnostics::Label { span: send_span, message: format!("sent here, from journey `{journey_name}`") });
            }
        }
        let info = &mut self.program.messages[message.0 as usize];
        if info.fields.is_empty() {
            info.fields = fields.clone();
        }
        fields
    }

    /// Messages no journey sends are still checked, in a context without a trigger.
    pub(crate) fn check_unsent_messages(&mut self) {
        for index in 0..self.message_decls.len() {
            if self.message_sent[index] {
                continue;
            }
            let decl = self.message_decls[index];
            let cx = Cx { no_trigger_reason: "the message is not sent from any journey", ..Cx::default() };
            let fields: Vec<(Symbol, Template)> = decl.fields.iter().map(|f| (f.name.name, self.template(&f.value, &cx))).collect();
            self.program.messages[index].fields = fields;
            self.emit(
                Diagnostic::warning("J0205", format!("message `{}` is never sent", decl.name.as_str()), decl.name.span)
                    .with_label("declared but unused")
                    .with_help("send it from a journey, or remove it from the content inventory"),
            );
        }
    }
}
