//! Fast, exact UTC offsets of IANA time zones.
//!
//! Local-time arithmetic (quiet hours, `wait until 09:00`, daily and yearly entries) is the
//! costliest thing the engine does per contact: every chrono-tz lookup is a binary search over
//! the zone's whole history plus calendar conversions. Offsets change at most once per UTC day
//! in the tz database (DST and rule changes are months apart), so this module computes, per
//! (zone, UTC day), the offset at the day's start and — when it changes within the day — the
//! exact second of the change, found by bisection with chrono-tz itself. The results live in a
//! small direct-mapped cache per thread: after warm-up a lookup is a few integer operations and
//! never allocates.
//!
//! Conversions from local time follow LANGUAGE.md §4: an ambiguous local time takes the earlier
//! instant; a local time inside a DST gap moves forward to the first valid instant (the
//! transition itself). The tests compare every function here with chrono-tz over many zones
//! and instants around real transitions.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::cell::Cell;

const DAY_S: i64 = 86_400;
const DAY_MS: i64 = 86_400_000;
/// Places in the per-thread cache, two days each (16,384 days, 512 KB).
const SETS: usize = 8192;

/// The offsets of one zone over one UTC day (32 bytes).
#[derive(Clone, Copy)]
struct Day {
    zone: u32,
    /// No change this day nor the days either side, all with the same offset: every local time
    /// of this day maps to exactly one instant, with that offset.
    stable: bool,
    day: i64,
    /// Offset (seconds east of UTC) at the day's first second.
    before: i32,
    after: i32,
    /// First instant (UTC milliseconds, a whole second) with offset `after`; `i64::MAX` when
    /// the offset holds all day.
    change_ms: i64,
}

impl Day {
    /// The offset at `utc_ms`, an instant of this day. (`change_ms` is a whole second, so this
    /// compares the second of `utc_ms` with it.)
    #[inline]
    fn offset(&self, utc_ms: i64) -> i32 {
        if utc_ms >= self.change_ms { self.after } else { self.before }
    }
}

const EMPTY: Day = Day { zone: u32::MAX, stable: false, day: i64::MIN, before: 0, after: 0, change_ms: i64::MAX };

/// Two days of the cache that share a place (a cache line): two zones whose days land on the
/// same places both stay (one way each) instead of evicting each other at every other contact.
#[repr(align(64))]
struct Set([Cell<Day>; 2]);

thread_local! {
    // Plain `Copy` cells with a constant initialiser: no lazy initialisation, no destructor, no
    // borrow flag — an access is a load from thread-local storage.
    static DAYS: [Set; SETS] = const { [const { Set([const { Cell::new(EMPTY) }, const { Cell::new(EMPTY) }]) }; SETS] };
}

/// chrono-tz's offset at a UTC second.
fn offset_uncached(tz: Tz, utc_s: i64) -> i32 {
    match DateTime::from_timestamp(utc_s, 0) {
        Some(t) => tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc(),
        None => 0,
    }
}

fn compute_day(tz: Tz, zone: u32, day: i64) -> Day {
    let start = day.saturating_mul(DAY_S);
    let end = start.saturating_add(DAY_S - 1);
    let before = offset_uncached(tz, start);
    let after = offset_uncached(tz, end);
    let mut change = i64::MAX;
    if before != after {
        // Invariant: offset(lo) == before, offset(hi) != before.
        let (mut lo, mut hi) = (start, end);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset_uncached(tz, mid) == before { lo = mid } else { hi = mid }
        }
        change = hi;
    }
    // Whether the days either side keep the same offset all day (with at most one change a
    // day, equal offsets at a day's first and last second mean no change within it).
    let stable = change == i64::MAX && [start - DAY_S, start - 1, end + 1, end + DAY_S].into_iter().all(|t| offset_uncached(tz, t) == before);
    let change_ms = if change == i64::MAX { i64::MAX } else { change.saturating_mul(1000) };
    Day { zone, stable, day, before, after, change_ms }
}

fn day_of(tz: Tz, day: i64) -> Day {
    let zone = tz as u32;
    // A zone's days are consecutive places, from one the zone's number scatters: the few
    // weeks a run asks about sit in a few dozen cache lines per zone.
    let index = ((zone as u64).wrapping_mul(0x9E37_79B9).wrapping_add(day as u64)) as usize % SETS;
    DAYS.with(|days| {
        let Some(Set([first, second])) = days.get(index) else { return compute_day(tz, zone, day) };
        let cached = first.get();
        if cached.zone == zone && cached.day == day {
            return cached;
        }
        let other = second.get();
        if other.zone == zone && other.day == day {
            return other;
        }
        // The day found last goes first; the one it displaces stays, second.
        let d = compute_day(tz, zone, day);
        second.set(cached);
        first.set(d);
        d
    })
}

/// Offset of `tz` at the UTC instant `utc_ms`, in seconds east of UTC.
pub fn offset_at(tz: Tz, utc_ms: i64) -> i32 {
    if tz == Tz::UTC {
        return 0;
    }
    let d = day_of(tz, utc_ms.div_euclid(DAY_MS));
    d.offset(utc_ms)
}

/// Milliseconds into the local day of a UTC instant: `split_local(to_local(tz, utc_ms)).1`, with
/// one division instead of three (asked at every send, for quiet hours).
pub fn local_ms_of_day(tz: Tz, utc_ms: i64) -> i64 {
    if !(i64::MIN / 4..i64::MAX / 4).contains(&utc_ms) {
        return split_local(to_local(tz, utc_ms)).1;
    }
    let day = utc_ms.div_euclid(DAY_MS);
    let into = utc_ms - day * DAY_MS;
    if tz == Tz::UTC {
        return into;
    }
    let d = day_of(tz, day);
    let offset = i64::from(d.offset(utc_ms));
    // Offsets are under a day: the local time is on the UTC day or one either side of it.
    let local = into + offset * 1000;
    if local < 0 {
        local + DAY_MS
    } else if local >= DAY_MS {
        local - DAY_MS
    } else {
        local
    }
}

/// The local wall-clock time of a UTC instant, as milliseconds of a UTC-like timeline.
pub fn to_local(tz: Tz, utc_ms: i64) -> i64 {
    utc_ms.saturating_add(i64::from(offset_at(tz, utc_ms)) * 1000)
}

/// The UTC instant of a local wall-clock time (milliseconds on the local timeline): the earlier
/// instant when ambiguous, the end of the gap when the local time does not exist.
pub fn to_utc(tz: Tz, local_ms: i64) -> i64 {
    if tz == Tz::UTC {
        return local_ms;
    }
    // Offsets are under a day, so the instant lies within a day of the local time: every offset
    // it could have is one of the neighbouring UTC days' offsets.
    let day = local_ms.div_euclid(DAY_MS);
    let today = day_of(tz, day);
    // Almost always no offset changes around: the one offset gives the one instant.
    if today.stable {
        return local_ms.saturating_sub(i64::from(today.before) * 1000);
    }
    let days = [day_of(tz, day - 1), today, day_of(tz, day + 1)];
    let mut best = i64::MAX;
    for d in &days {
        for offset in [d.before, d.after] {
            let utc = local_ms.saturating_sub(i64::from(offset) * 1000);
            if utc < best && offset_at(tz, utc) == offset {
                best = utc;
            }
        }
    }
    if best != i64::MAX {
        return best;
    }
    // A gap: the local time falls between the end of the old offset and the start of the new
    // one; the first valid instant after it is the transition itself.
    for d in &days {
        if d.change_ms != i64::MAX {
            let change_ms = d.change_ms;
            let (gap_start, gap_end) = (change_ms + i64::from(d.before) * 1000, change_ms + i64::from(d.after) * 1000);
            if local_ms >= gap_start && local_ms < gap_end {
                return change_ms;
            }
        }
    }
    local_ms.saturating_sub(i64::from(days[1].before) * 1000)
}

/// Day number (days since 1970-01-01) and milliseconds into the day of a local-timeline instant.
pub fn split_local(local_ms: i64) -> (i64, i64) {
    (local_ms.div_euclid(DAY_MS), local_ms.rem_euclid(DAY_MS))
}

/// Weekday of a day number, 0 = Monday (1970-01-01 was a Thursday).
pub fn weekday_of(day: i64) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use chrono::{LocalResult, NaiveDateTime};

    const ZONES: [&str; 10] = [
        "Europe/Paris",
        "America/New_York",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "Europe/London",
        "America/St_Johns",
        "Pacific/Apia",
        "UTC",
    ];

    fn reference_to_utc(tz: Tz, local: NaiveDateTime) -> i64 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(earlier, _) => earlier.timestamp_millis(),
            LocalResult::None => {
                let mut probe = local;
                for _ in 0..(24 * 60) {
                    probe += chrono::Duration::minutes(1);
                    if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                        return t.timestamp_millis();
                    }
                }
                0
            }
        }
    }

    /// Every 17 minutes over three years (DST changes in both hemispheres, a zone with a
    /// 30-minute DST, one that skipped a whole day), both directions agree with chrono-tz.
    #[test]
    fn agrees_with_chrono_tz_around_every_transition() {
        let start = 1_293_840_000_000i64; // 2011-01-01
        for name in ZONES {
            let tz: Tz = name.parse().unwrap();
            let mut t = start;
            while t < start + 3 * 365 * DAY_MS {
                let expected = DateTime::from_timestamp_millis(t).unwrap().with_timezone(&tz).naive_local();
                let local = to_local(tz, t);
                assert_eq!(DateTime::from_timestamp_millis(local).unwrap().naive_utc(), expected, "{name} at {t}");
                assert_eq!(local_ms_of_day(tz, t), split_local(local).1, "{name} at {t}");
                // Local → UTC, on whole minutes (the reference walks minute by minute in gaps).
                let wall = DateTime::from_timestamp_millis(t - t.rem_euclid(60_000)).unwrap().naive_utc();
                assert_eq!(to_utc(tz, wall.and_utc().timestamp_millis()), reference_to_utc(tz, wall), "{name}: local {wall}");
                t += 17 * 60_000 + 123;
            }
        }
    }

    /// Far from now too: before 1970, near the ends of the range the fast path covers, and past them.
    #[test]
    fn the_local_time_of_day_agrees_with_the_local_timeline_everywhere() {
        let edge = i64::MAX / 4;
        let instants = [-86_400_001, -1, 0, 1, -2_000_000_000_000, 4_102_444_800_000, edge - 1, edge, -edge, -edge - 1, i64::MAX, i64::MIN];
        for name in ZONES {
            let tz: Tz = name.parse().unwrap();
            for t in instants {
                assert_eq!(local_ms_of_day(tz, t), split_local(to_local(tz, t)).1, "{name} at {t}");
            }
        }
    }

    #[test]
    fn a_cache_entry_is_32_bytes_and_a_place_one_cache_line() {
        assert_eq!(std::mem::size_of::<Day>(), 32);
        assert_eq!((std::mem::size_of::<Set>(), std::mem::align_of::<Set>()), (64, 64));
    }

    /// Zones whose days land on the same places of the cache answer as chrono-tz does, turn
    /// and turn about: two (one way each), and three (each evicting another).
    #[test]
    fn zones_sharing_places_answer_exactly() {
        let base = |tz: Tz| ((tz as u64).wrapping_mul(0x9E37_79B9) as usize) % SETS;
        // Three zones whose 40 days overlap on the cache: their first places within 40.
        let all = chrono_tz::TZ_VARIANTS;
        let sharing = all
            .iter()
            .find_map(|&a| {
                let near: Vec<Tz> = all.iter().copied().filter(|&b| b != a && (base(b) + SETS - base(a)) % SETS < 40).take(2).collect();
                (near.len() == 2).then(|| vec![a, near[0], near[1]])
            })
            .unwrap();
        for round in 0..4 {
            let zones = &sharing[..2 + round % 2];
            for day in 20_500..20_540 {
                for (i, &tz) in zones.iter().enumerate() {
                    let t = day * DAY_MS + 3 * 3_600_000 + i as i64;
                    assert_eq!(offset_at(tz, t), offset_uncached(tz, t.div_euclid(1000)), "{tz} {day}");
                }
            }
        }
    }

    #[test]
    fn gaps_move_forward_and_ambiguous_times_take_the_earlier_instant() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap().and_utc().timestamp_millis();
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        // 2026-03-29 02:30 does not exist in Paris: 03:00 CEST = 01:00Z.
        assert_eq!(to_utc(paris, local("2026-03-29 02:30")), utc("2026-03-29T01:00:00Z"));
        // 2026-10-25 02:30 happens twice: the first is 00:30Z (CEST).
        assert_eq!(to_utc(paris, local("2026-10-25 02:30")), utc("2026-10-25T00:30:00Z"));
        assert_eq!(weekday_of(split_local(local("2026-12-07 09:00")).0), 0, "a Monday");
    }
}
