//! `journey gen`: a deterministic synthetic cohort for the reference project in `examples/` —
//! sign-ups with their traits, page views, app sessions, email opens and clicks, carts and
//! orders, score changes, CRM deal stages, support tickets, custom API signals, unsubscribes,
//! birthdays and time zones. The same (contacts, seed, days) always gives the same bytes.
//!
//! The generator is a SplitMix64 stream seeded per contact, so contact `k`'s records do not
//! depend on how many contacts come before it, and the output is stable across platforms and
//! library versions (a general-purpose RNG crate does not promise that across releases).

use std::io::Write;

/// Start of generated time: 2026-01-01T00:00:00Z.
pub const EPOCH_MS: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn instant(ms: i64) -> String {
    journey_vm::value::format_instant(ms)
}

const FIRST_NAMES: &[&str] = &["Ana", "Bo", "Chen", "Dara", "Emil", "Fatima", "Gus", "Hana", "Ivo", "Jon", "Kai", "Lea", "Mo", "Nia", "Omar", "Pia"];
const ZONES: &[&str] = &["Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Europe/London", "Australia/Sydney", "UTC"];
const SKUS: &[&str] = &["SHOE-42", "HAT-1", "BAG-7", "COAT-3", "SOCK-9", "PRO-M"];
const PAGES: &[&str] = &["/", "/pricing", "/docs", "/blog", "/p/shoes", "/p/hats", "/cart"];
const MESSAGES: &[&str] = &["welcome_1", "welcome_2a", "welcome_2b", "pro_tips", "cart_email", "bf_offer_a", "bf_offer_b", "winback"];
const STAGES: &[&str] = &["qualified", "proposal", "won", "lost"];

/// Writes the cohort as JSON lines; returns the number of records written.
pub fn generate(contacts: u64, seed: u64, days: u32, out: &mut dyn Write) -> std::io::Result<u64> {
    let span = i64::from(days.max(1)) * DAY;
    let mut written = 0u64;
    let mut line = String::with_capacity(512);
    for k in 0..contacts {
        let mut rng = Rng(seed ^ (k.wrapping_mul(0xD1B5_4A32_D192_ED03)));
        let _ = rng.next();
        let id = format!("c{k:07}");
        let signup = EPOCH_MS + rng.below(span as u64 * 3 / 4) as i64;
        let plan = match rng.below(100) {
            0..=69 => "free",
            70..=94 => "pro",
            _ => "enterprise",
        };
        let mut records: Vec<(i64, String)> = Vec::with_capacity(24);
        let initial_score = rng.below(30);
        let mut traits = vec![
            format!("\"email\":\"{id}@example.com\""),
            format!("\"plan\":\"{plan}\""),
            format!("\"score\":{initial_score}"),
            "\"lifetime_value\":0.0".to_string(),
            format!("\"signup_at\":\"{}\"", instant(signup)),
            format!("\"consent_sms\":{}", rng.chance(40)),
            format!("\"region\":\"{}\"", rng.pick(&["emea", "amer", "apac"])),
        ];
        if rng.chance(70) {
            traits.push(format!("\"first_name\":\"{}\"", rng.pick(FIRST_NAMES)));
        }
        if plan == "free" {
            traits.push(format!("\"trial_ends_at\":\"{}\"", instant(signup + 14 * DAY)));
        } else {
            traits.push(format!("\"renews_at\":\"{}\"", instant(signup + (20 + rng.below(40) as i64) * DAY)));
        }
        if rng.chance(60) {
            traits.push(format!("\"birthday\":\"{}-{:02}-{:02}\"", 1960 + rng.below(45), 1 + rng.below(12), 1 + rng.below(28)));
        }
        if rng.chance(85) {
            traits.push(format!("\"tz\":\"{}\"", rng.pick(ZONES)));
        }
        let mut lists = Vec::new();
        if rng.chance(60) {
            lists.push("\"newsletter\"");
        }
        if rng.chance(5) {
            lists.push("\"vip\"");
        }
        traits.push(format!("\"lists\":[{}]", lists.join(",")));
        records.push((
            signup - 60_000,
            format!(
                "{{\"type\":\"identify\",\"userId\":\"{id}\",\"timestamp\":\"{}\",\"traits\":{{{}}}}}",
                instant(signup - 60_000),
                traits.join(",")
            ),
        ));
        let source = if rng.chance(10) { "partner" } else { rng.pick(&["web", "ads", "referral"]) };
        records.push((signup, track(&id, signup, "Signed Up", &format!("{{\"source\":\"{source}\"}}"))));

        let end = EPOCH_MS + span;
        let mut at = signup;
        let mut score = initial_score;
        let events = 8 + rng.below(26);
        for _ in 0..events {
            at += (rng.below(40) as i64 + 1) * HOUR / 4 + rng.below(HOUR as u64) as i64;
            if at >= end {
                break;
            }
            let roll = rng.below(100);
            let text = match roll {
                0..=24 => track(&id, at, "Page Viewed", &format!("{{\"url\":\"{}\"}}", rng.pick(PAGES))),
                25..=44 => track(&id, at, "App Opened", "{}"),
                45..=56 => track(&id, at, "Email Opened", &format!("{{\"message\":\"{}\"}}", rng.pick(MESSAGES))),
                57..=63 => track(&id, at, "Email Clicked", &format!("{{\"message\":\"{}\",\"url\":\"https://shop.example/\"}}", rng.pick(MESSAGES))),
                64..=72 => {
                    let sku = rng.pick(SKUS);
                    let total = 15 + rng.below(200);
                    track(&id, at, "Cart Updated", &format!("{{\"sku\":\"{sku}\",\"total\":{total}.0}}"))
                }
                73..=78 => {
                    let sku = rng.pick(SKUS);
                    let total = 15 + rng.below(200);
                    track(&id, at, "Order Completed", &format!("{{\"total\":{total}.0,\"sku\":\"{sku}\"}}"))
                }
                79..=87 => {
                    score += 5 + rng.below(20);
                    format!("{{\"type\":\"identify\",\"userId\":\"{id}\",\"timestamp\":\"{}\",\"traits\":{{\"score\":{score}}}}}", instant(at))
                }
                88..=91 => track(&id, at, "Deal Stage Changed", &format!("{{\"stage\":\"{}\"}}", rng.pick(STAGES))),
                92..=94 => {
                    let csat = if rng.chance(80) { format!("{}", 1 + rng.below(5)) } else { "null".into() };
                    track(&id, at, "Ticket Closed", &format!("{{\"csat\":{csat}}}"))
                }
                95..=97 => track(
                    &id,
                    at,
                    "Custom Signal",
                    &format!("{{\"name\":\"{}\",\"value\":{}}}", rng.pick(&["trial_stuck", "power_user"]), rng.below(10)),
                ),
                _ => track(&id, at, "Unsubscribed", "{}"),
            };
            records.push((at, text));
            if roll >= 98 {
                break;
            }
        }
        for (_, text) in records {
            line.clear();
            line.push_str(&text);
            line.push('\n');
            out.write_all(line.as_bytes())?;
            written += 1;
        }
    }
    Ok(written)
}

fn track(id: &str, at: i64, event: &str, properties: &str) -> String {
    format!("{{\"type\":\"track\",\"userId\":\"{id}\",\"timestamp\":\"{}\",\"event\":\"{event}\",\"properties\":{properties}}}", instant(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_contact_local() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        generate(50, 7, 30, &mut a).unwrap_or_default();
        generate(50, 7, 30, &mut b).unwrap_or_default();
        assert_eq!(a, b);
        let mut fewer = Vec::new();
        generate(10, 7, 30, &mut fewer).unwrap_or_default();
        assert!(a.starts_with(&fewer), "contact k's records do not depend on the total");
        let mut other = Vec::new();
        generate(50, 8, 30, &mut other).unwrap_or_default();
        assert_ne!(a, other);
    }
}
