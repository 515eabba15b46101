//! Local time: the contact's wall clock in its zone (LANGUAGE.md §4's DST rules) — local
//! days, years and dates, `format(…)`, the next clock time or anniversary — mostly by calendar
//! arithmetic, checked against chrono in the tests.

use crate::eval::DAY_MS;
use crate::zone;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

/// The local wall-clock time of an instant in `tz`.
pub fn local(tz: Tz, ms: i64) -> NaiveDateTime {
    match chrono::DateTime::from_timestamp_millis(zone::to_local(tz, ms)) {
        Some(t) => t.naive_utc(),
        None => NaiveDateTime::default(),
    }
}

/// The local day (days since 1970-01-01) of an instant in `tz`, by the calendar arithmetic of
/// [`crate::value::civil`] rather than chrono's: `local(tz, ms).date()` as a day number,
/// without its conversions. `None` more than 250,000 years from 1970, where [`local`] answers
/// instead.
pub fn local_day(tz: Tz, ms: i64) -> Option<i64> {
    const BOUND: i64 = 250_000 * 366 * 86_400_000;
    let local = zone::to_local(tz, ms);
    (-BOUND..BOUND).contains(&local).then(|| zone::split_local(local).0)
}

/// `year()` of an instant in `tz`: [`local_day`]'s year, chrono's beyond its bound.
pub fn local_year(tz: Tz, ms: i64) -> i64 {
    match local_day(tz, ms) {
        Some(day) => crate::value::civil(day).0,
        None => i64::from(local(tz, ms).year()),
    }
}

/// `date()` of an instant in `tz`, in days since 1970-01-01: [`local_day`] (within its bound,
/// about 91 million days, so it fits), chrono's beyond it.
pub fn local_date(tz: Tz, ms: i64) -> i32 {
    match local_day(tz, ms) {
        Some(day) => day as i32,
        None => days_of_date(local(tz, ms).date()),
    }
}

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `format(t, pattern)` of the local wall-clock time `local_ms` into `out`, as chrono's
/// `format` writes it, for the usual specifiers (`%Y %m %d %e %b %h %B %a %A %H %I %M %S %p %y
/// %j %u %w %F %T %R %D %%`) and years 0 to 9999. `false` (and `out` left to be cleared) for
/// anything else — another specifier, a padding modifier, a `%` at the end, a year outside
/// that range — which chrono then formats or rejects.
pub fn format_local(local_ms: i64, pattern: &str, out: &mut String) -> bool {
    // Years 0..=9999 lie well within this many milliseconds of 1970.
    const BOUND: i64 = 10_000 * 366 * 86_400_000;
    if !(-BOUND..BOUND).contains(&local_ms) {
        return false;
    }
    let (day, into) = zone::split_local(local_ms);
    let (year, month, mday) = crate::value::civil(day);
    if !(0..=9999).contains(&year) {
        return false;
    }
    let parts = Parts { day, year, month, mday, weekday: zone::weekday_of(day) as usize, into };
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let mut chars = rest[at + 1..].chars();
        let Some(spec) = chars.next() else { return false };
        rest = chars.as_str();
        // The composite specifiers, as chrono defines them: their fields and what goes before each.
        let composite: Option<(&str, [&str; 3])> = match spec {
            'F' => Some(("Ymd", ["", "-", "-"])),
            'T' => Some(("HMS", ["", ":", ":"])),
            'R' => Some(("HM", ["", ":", ""])),
            'D' => Some(("mdy", ["", "/", "/"])),
            _ => None,
        };
        let done = match composite {
            Some((fields, seps)) => fields.chars().zip(seps).all(|(c, sep)| {
                out.push_str(sep);
                parts.write(c, out)
            }),
            None => parts.write(spec, out),
        };
        if !done {
            return false;
        }
    }
    out.push_str(rest);
    true
}

/// The fields of a local time [`format_local`] writes.
struct Parts {
    day: i64,
    year: i64,
    month: u32,
    mday: u32,
    /// 0 = Monday.
    weekday: usize,
    /// Milliseconds into the day.
    into: i64,
}

impl Parts {
    /// Writes the field of one specifier; `false` for one it does not know.
    fn write(&self, spec: char, out: &mut String) -> bool {
        let padded = |out: &mut String, n: i64, width: usize, pad: char| {
            if width == 2 && (0..100).contains(&n) {
                out.push(if n < 10 { pad } else { char::from(b'0' + (n / 10) as u8) });
                out.push(char::from(b'0' + (n % 10) as u8));
                return;
            }
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(n);
            out.extend(std::iter::repeat_n(pad, width.saturating_sub(digits.len())));
            out.push_str(digits);
        };
        let month = self.month as usize;
        let hour = self.into / 3_600_000;
        match spec {
            'Y' => padded(out, self.year, 4, '0'),
            'm' => padded(out, i64::from(self.month), 2, '0'),
            'd' => padded(out, i64::from(self.mday), 2, '0'),
            'e' => padded(out, i64::from(self.mday), 2, ' '),
            'b' | 'h' => out.push_str(MONTHS.get(month.wrapping_sub(1)).map_or("", |m| &m[..3])),
            'B' => out.push_str(MONTHS.get(month.wrapping_sub(1)).copied().unwrap_or("")),
            'a' => out.push_str(WEEKDAYS.get(self.weekday).map_or("", |d| &d[..3])),
            'A' => out.push_str(WEEKDAYS.get(self.weekday).copied().unwrap_or("")),
            'H' => padded(out, hour, 2, '0'),
            'I' => padded(out, (hour + 11) % 12 + 1, 2, '0'),
            'M' => padded(out, self.into / 60_000 % 60, 2, '0'),
            'S' => padded(out, self.into / 1000 % 60, 2, '0'),
            'p' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            'y' => padded(out, self.year % 100, 2, '0'),
            'j' => padded(out, self.day - crate::value::days_from_civil(self.year, 1, 1) + 1, 3, '0'),
            'u' => padded(out, self.weekday as i64 + 1, 1, '0'),
            'w' => padded(out, (self.weekday as i64 + 1) % 7, 1, '0'),
            '%' => out.push('%'),
            _ => return false,
        }
        true
    }
}

/// The instant of a local wall-clock time: a time in a DST gap moves forward to the first valid
/// instant; an ambiguous one takes the earlier instant (LANGUAGE.md §4).
pub fn instant_of(tz: Tz, local: NaiveDateTime) -> i64 {
    zone::to_utc(tz, local.and_utc().timestamp_millis())
}

pub fn days_of_date(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    d.signed_duration_since(epoch).num_days() as i32
}

pub fn date_of_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(days as i64)
}

/// Milliseconds into a local day of the clock time `minutes` (hours wrap at 24).
fn clock_ms(minutes: u32) -> i64 {
    i64::from((minutes / 60 % 24) * 60 + minutes % 60) * 60_000
}

/// The first instant ≥ `from` whose local time is `minutes` (and, when given, on `weekday`,
/// 0 = Monday).
pub fn next_clock(tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
    // The local day of `from` is within a day of its UTC day (offsets are under a day), so the
    // candidates start two days before that: the earliest ones are passed over without a time
    // zone lookup (below), and none before the local day can be the answer. Weekly, only the
    // right weekday is tried, seven days apart.
    let utc_day = from.div_euclid(DAY_MS);
    let mut day = utc_day - 2;
    let step = match weekday {
        // No such weekday (a hostile `.jbc`): never, as before.
        Some(w) if w > 6 => return from,
        Some(w) => {
            day += (i64::from(w) - i64::from(zone::weekday_of(day))).rem_euclid(7);
            7
        }
        None => 1,
    };
    while day < utc_day + 17 {
        let local = day * DAY_MS + clock_ms(minutes);
        // A local time maps to an instant less than a day from it: one a day or more before
        // `from` cannot be it (and needs no time zone lookup).
        if local.saturating_add(DAY_MS) > from {
            let t = zone::to_utc(tz, local);
            if t >= from {
                return t;
            }
        }
        day += step;
    }
    from
}

/// The next instant ≥ `from` and > `after` on (month, day) at local `minutes`, each year; Feb 29
/// falls on Feb 28 in other years.
// Not inlined: its time-zone arithmetic would be hoisted into every caller's entry, paid by
// the schedules that have no anniversary.
#[inline(never)]
pub fn next_yearly(tz: Tz, from: i64, after: i64, month: u32, day: u32, minutes: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > 31 {
        return None;
    }
    let (year, _, _) = crate::value::civil(zone::split_local(zone::to_local(tz, from)).0);
    for y in (year - 1)..(year + 3) {
        let last = crate::value::days_in_month(y, month);
        let d = if day <= last {
            day
        } else if month == 2 && day == 29 {
            28
        } else {
            continue;
        };
        let local = crate::value::days_from_civil(y, month, d) * DAY_MS + clock_ms(minutes);
        // As in `next_clock`: an instant less than a day from `local` cannot be due yet.
        if local.saturating_add(DAY_MS) <= from.max(after.saturating_add(1)) {
            continue;
        }
        let t = zone::to_utc(tz, local);
        if t >= from && t > after {
            return Some(t);
        }
    }
    None
}

/// Minutes after local midnight. (Not inlined, for the reason `next_yearly` is not.)
#[inline(never)]
pub fn local_minutes(tz: Tz, t: i64) -> u32 {
    (zone::local_ms_of_day(tz, t) / 60_000) as u32
}

/// Parses a time zone name; UTC when it is not a valid IANA name.
pub fn parse_tz(name: &str) -> Tz {
    name.parse::<Tz>().unwrap_or(Tz::UTC)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    /// The calendar arithmetic agrees with chrono's over four centuries.
    #[test]
    fn civil_dates_round_trip_and_agree_with_chrono() {
        for days in -150_000i64..150_000 {
            let (y, m, d) = crate::value::civil(days);
            assert_eq!(crate::value::days_from_civil(y, m, d), days);
            let date = date_of_days(days as i32);
            assert_eq!((i64::from(date.year()), date.month(), date.day()), (y, m, d));
            assert_eq!(
                crate::value::days_in_month(y, m),
                if m == 12 { 31 } else { (NaiveDate::from_ymd_opt(y as i32, m + 1, 1).unwrap() - chrono::Duration::days(1)).day() }
            );
        }
    }

    /// `format_local` writes what chrono's `format` writes, for every specifier it knows, over
    /// zones, DST changes, leap days and years 0 to 9999; it declines everything else.
    #[test]
    fn format_local_agrees_with_chrono() {
        let known = "Y m d e b h B a A H I M S p y j u w F T R D %".split(' ');
        let patterns: Vec<String> = known
            .clone()
            .map(|c| format!("%{c}"))
            .chain(["%b %d".to_string(), "on %A, %e %B %Y at %I:%M %p (%j) — déjà".to_string(), "%F %T".to_string(), "".to_string()])
            .collect();
        let zones = [Tz::UTC, Tz::Europe__Paris, Tz::America__New_York, Tz::Asia__Kolkata, Tz::Australia__Lord_Howe, Tz::Pacific__Apia];
        let mut next = crate::xorshift(11);
        let ms_of_year = 365 * 86_400_000i64;
        for i in 0..20_000 {
            // Most near today, some anywhere in years -100 to 10100.
            let t = if i % 4 == 0 {
                (next() % (10_200 * ms_of_year as u64)) as i64 - 2_070 * ms_of_year
            } else {
                1_700_000_000_000 + (next() % (4 * ms_of_year as u64)) as i64
            };
            let tz = zones[i % zones.len()];
            let pattern = &patterns[i % patterns.len()];
            let naive = local(tz, t);
            let mut out = String::new();
            if format_local(zone::to_local(tz, t), pattern, &mut out) {
                assert_eq!(out, naive.format(pattern).to_string(), "{pattern:?} at {t} in {tz}");
            } else {
                assert!(!(0..=9999).contains(&naive.year()), "declined {pattern:?} at {t} in {tz}");
            }
        }
        for pattern in ["%", "100%", "%-d", "%_m", "%Z", "%z", "%C", "%U", "%.3f", "%c"] {
            assert!(!format_local(0, pattern, &mut String::new()), "{pattern:?}");
        }
    }

    /// `local_day` is `local(..).date()` as a day number, and its year `local(..).year()`, over
    /// zones, DST changes and the far past and future; beyond its bound it answers nothing.
    #[test]
    fn local_day_agrees_with_chrono() {
        let zones = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe"];
        let far = 249_000 * 365 * DAY_MS;
        let mut instants: Vec<i64> = (-400..400).map(|h| 1_774_400_000_000 + h * 3_599_999).collect();
        instants.extend([0, -1, far, -far, 4_102_444_800_000, -62_135_596_800_000]);
        for name in zones {
            let tz = parse_tz(name);
            for &t in &instants {
                let day = local_day(tz, t).unwrap();
                let expected = local(tz, t);
                assert_eq!(day, i64::from(days_of_date(expected.date())), "{name} {t}");
                assert_eq!(crate::value::civil(day).0, i64::from(expected.year()), "{name} {t}");
            }
            assert_eq!(local_day(tz, i64::MAX), None);
            assert_eq!(local_day(tz, i64::MIN), None);
        }
    }

    /// The chrono-based version `next_yearly` replaced.
    fn reference_next_yearly(tz: Tz, from: i64, after: i64, month: u32, day: u32, minutes: u32) -> Option<i64> {
        let year = local(tz, from).year();
        for y in (year - 1)..(year + 3) {
            let d = NaiveDate::from_ymd_opt(y, month, day).or_else(|| if month == 2 && day == 29 { NaiveDate::from_ymd_opt(y, 2, 28) } else { None });
            let Some(d) = d else { continue };
            let t = zone::to_utc(tz, i64::from(days_of_date(d)) * DAY_MS + clock_ms(minutes));
            if t >= from && t > after {
                return Some(t);
            }
        }
        None
    }

    /// `next_clock` as first written: every candidate day through the time zone.
    fn reference_next_clock(tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
        let (today, _) = zone::split_local(zone::to_local(tz, from));
        for day in (today - 1)..(today + 15) {
            if weekday.is_some_and(|w| zone::weekday_of(day) != w) {
                continue;
            }
            let t = zone::to_utc(tz, day * DAY_MS + clock_ms(minutes));
            if t >= from {
                return t;
            }
        }
        from
    }

    #[test]
    fn next_clock_skips_only_days_that_cannot_be_next() {
        let zones: [Tz; 5] = ["UTC", "Europe/Paris", "Pacific/Apia", "Pacific/Kiritimati", "America/Sao_Paulo"].map(|z| z.parse().unwrap());
        let mut next = crate::xorshift(11);
        for _ in 0..20_000 {
            let tz = zones[(next() % 5) as usize];
            let from = 1_600_000_000_000 + (next() % (10 * 365 * DAY_MS as u64)) as i64;
            let minutes = (next() % 1440) as u32;
            let weekday = if next().is_multiple_of(2) { None } else { Some((next() % 8) as u32) };
            assert_eq!(next_clock(tz, from, minutes, weekday), reference_next_clock(tz, from, minutes, weekday), "{tz} {from} {minutes} {weekday:?}");
        }
    }

    #[test]
    fn next_yearly_agrees_with_the_chrono_version() {
        let zones: [Tz; 4] =
            ["UTC".parse().unwrap(), "Europe/Paris".parse().unwrap(), "Pacific/Apia".parse().unwrap(), "America/Sao_Paulo".parse().unwrap()];
        let mut next = crate::xorshift(7);
        for _ in 0..20_000 {
            let tz = zones[(next() % 4) as usize];
            let from = 1_600_000_000_000 + (next() % (10 * 365 * DAY_MS as u64)) as i64;
            let after = if next().is_multiple_of(2) { i64::MIN } else { from + (next() % (400 * DAY_MS as u64)) as i64 - 200 * DAY_MS };
            let (month, day) = (1 + (next() % 12) as u32, 1 + (next() % 31) as u32);
            let minutes = (next() % 1440) as u32;
            assert_eq!(
                next_yearly(tz, from, after, month, day, minutes),
                reference_next_yearly(tz, from, after, month, day, minutes),
                "{tz} {from} {after} {month}-{day} {minutes}"
            );
        }
    }
}
