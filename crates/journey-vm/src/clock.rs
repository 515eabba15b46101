//! Occurrences of local clock times, remembered per time zone.
//!
//! `every day at 12:00`, `every monday at 09:00` and `wait until 10:00` ask the same question
//! again and again: the first instant at or after `from` whose local time (in the contact's
//! zone) is a given clock time, on any day or on one weekday. [`next_clock`] answers it with a
//! few zone lookups; contacts of a cohort share a handful of zones and the same few clock
//! times, so the answers repeat from contact to contact. A [`Series`] keeps the occurrences of
//! one (zone, clock time, weekday) in order, built with [`next_clock`] itself, and answers by
//! binary search: the same instant `next_clock` gives, for a fraction of the work.
//!
//! Why the answers agree: the occurrences of a clock time in a zone are a fixed, increasing set
//! of instants (one per local day, or per week), and `next_clock(from)` is the least of them
//! at or after `from`. A series holds consecutive ones, `times[0] = next_clock(anchor)` and
//! `times[i + 1] = next_clock(times[i] + 1)`, so for any `from` in `anchor ..= times.last()`
//! the least `times[i] >= from` is that answer. The tests compare the two over many zones
//! (with DST gaps, skipped days and half-hour shifts) and instants in any order.

use crate::eval::next_clock;
use chrono_tz::Tz;

/// How far before the first instant asked for a series starts: contacts of a batch start at
/// different instants, and most of them within this of the first one seen.
const LEAD_MS: i64 = 8 * 86_400_000;
/// A series longer than this starts afresh (a run spanning decades of daily occurrences).
const MAX_LEN: usize = 8192;
const DAY_MS: i64 = 86_400_000;

/// The occurrences of one clock time in one zone.
struct Series {
    /// `minutes` after local midnight, and the weekday (0 = Monday; 7 for every day).
    key: u32,
    /// Every instant asked for at or after this one has its answer in `times` (once extended).
    anchor: i64,
    times: Vec<i64>,
}

/// The series of every zone and clock time asked for so far (per VM, so per thread).
#[derive(Default)]
pub struct Clocks {
    zones: Vec<(Tz, Vec<Series>)>,
    /// The zone asked for last: contacts run one at a time, and each has one zone.
    last: usize,
}

impl Clocks {
    /// [`next_clock`]`(tz, from, minutes, weekday)`, from the remembered occurrences.
    pub fn next(&mut self, tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
        // Out of range (a hostile `.jbc`): `next_clock` has its own answer for these.
        if minutes >= 1440 || weekday.is_some_and(|w| w > 6) || !(i64::MIN / 4..i64::MAX / 4).contains(&from) {
            return next_clock(tz, from, minutes, weekday);
        }
        let key = minutes | weekday.unwrap_or(7) << 16;
        let zone = match self.zones.get(self.last) {
            Some((z, _)) if *z == tz => self.last,
            _ => match self.zones.iter().position(|(z, _)| *z == tz) {
                Some(i) => i,
                None => {
                    self.zones.push((tz, Vec::new()));
                    self.zones.len() - 1
                }
            },
        };
        self.last = zone;
        let Some((_, series)) = self.zones.get_mut(zone) else { return next_clock(tz, from, minutes, weekday) };
        let index = match series.iter().position(|s| s.key == key) {
            Some(i) => i,
            None => {
                series.push(Series { key, anchor: i64::MAX, times: Vec::new() });
                series.len() - 1
            }
        };
        let Some(s) = series.get_mut(index) else { return next_clock(tz, from, minutes, weekday) };
        s.answer(tz, from, minutes, weekday)
    }
}

impl Series {
    fn answer(&mut self, tz: Tz, from: i64, minutes: u32, weekday: Option<u32>) -> i64 {
        if from < self.anchor || self.times.len() >= MAX_LEN {
            // Start (again) a little before `from`, and cover again what was covered (a series
            // only grows: once warm, it answers every contact without allocating); later
            // occurrences are added as asked for.
            let covered = if self.times.len() < MAX_LEN { self.times.last().copied() } else { None };
            self.anchor = from - LEAD_MS;
            self.times.clear();
            self.times.push(next_clock(tz, self.anchor, minutes, weekday));
            if let Some(last) = covered
                && !self.extend(tz, last, minutes, weekday)
            {
                return next_clock(tz, from, minutes, weekday);
            }
        }
        // Usually covered already: tested here, the work of extending out of line.
        let covered = self.times.last().is_some_and(|&last| last >= from);
        if !covered && !self.extend(tz, from, minutes, weekday) {
            return next_clock(tz, from, minutes, weekday);
        }
        let i = self.first_at_or_after(from, if weekday.is_some() { 7 * DAY_MS } else { DAY_MS });
        self.times.get(i).copied().unwrap_or_else(|| next_clock(tz, from, minutes, weekday))
    }

    /// The index of the first occurrence at or after `from` (`times.len()` when none), found
    /// from where it would be if occurrences were exactly `period` apart and moved to it: they
    /// are that apart but for time-zone changes, so the guess is at most a step or two off. (A
    /// binary search over them mispredicted at every step: 60% of the time of a clock-time
    /// question.)
    fn first_at_or_after(&self, from: i64, period: i64) -> usize {
        let Some(&first) = self.times.first() else { return 0 };
        let guess = usize::try_from(from.saturating_sub(first) / period).unwrap_or(0);
        let mut i = guess.min(self.times.len() - 1);
        while i > 0 && self.times[i - 1] >= from {
            i -= 1;
        }
        while i < self.times.len() && self.times[i] < from {
            i += 1;
        }
        i
    }

    /// Adds occurrences until the last is at or after `to`; `false` (the series is dropped) if
    /// `next_clock` stops moving forward, which only a zone without such local times could do.
    #[inline(never)]
    fn extend(&mut self, tz: Tz, to: i64, minutes: u32, weekday: Option<u32>) -> bool {
        while let Some(&last) = self.times.last()
            && last < to
        {
            let t = next_clock(tz, last + 1, minutes, weekday);
            if t <= last {
                self.times.clear();
                self.anchor = i64::MAX;
                return false;
            }
            self.times.push(t);
        }
        !self.times.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    /// Any order of instants, zones and clock times: the series answer as `next_clock` does.
    #[test]
    fn series_answer_as_next_clock_does() {
        let zones: Vec<Tz> = ["UTC", "Europe/Paris", "Pacific/Apia", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "America/New_York"]
            .iter()
            .map(|z| z.parse().unwrap())
            .collect();
        let mut clocks = Clocks::default();
        let mut next = crate::xorshift(5);
        // Times of day where DST changes happen (01:00–03:00) and the ends of the day.
        let minutes = [0, 30, 60, 90, 120, 150, 180, 540, 720, 1439];
        // Instants around two DST seasons and Apia's skipped 30 December 2011.
        let bases = [1_301_000_000_000i64, 1_325_000_000_000, 1_711_000_000_000, 1_730_000_000_000];
        for _ in 0..40_000 {
            let tz = zones[(next() % zones.len() as u64) as usize];
            let base = bases[(next() % bases.len() as u64) as usize];
            let from = base + (next() % (40 * DAY as u64)) as i64 - 20 * DAY;
            let m = minutes[(next() % minutes.len() as u64) as usize];
            let weekday = if next().is_multiple_of(2) { None } else { Some((next() % 7) as u32) };
            assert_eq!(clocks.next(tz, from, m, weekday), next_clock(tz, from, m, weekday), "{tz} {from} {m} {weekday:?}");
        }
    }

    /// The guessed index lands where a binary search does, however far apart the occurrences.
    #[test]
    fn first_at_or_after_is_the_partition_point() {
        let mut next = crate::xorshift(9);
        for _ in 0..2000 {
            let n = (next() % 40) as usize;
            let mut t = (next() % 1000) as i64;
            let times: Vec<i64> = (0..n)
                .map(|_| {
                    t += 1 + (next() % (3 * DAY as u64)) as i64;
                    t
                })
                .collect();
            let series = Series { key: 0, anchor: 0, times: times.clone() };
            for _ in 0..20 {
                let from = (next() % (n as u64 * 3 * DAY as u64 + 2000)) as i64 - 1000;
                let period = if next().is_multiple_of(2) { DAY } else { 7 * DAY };
                assert_eq!(series.first_at_or_after(from, period), times.partition_point(|&x| x < from), "{times:?} {from}");
            }
        }
    }

    #[test]
    fn out_of_range_questions_get_next_clocks_answers() {
        let mut clocks = Clocks::default();
        for (from, m, w) in [(0, 1440, None), (1_700_000_000_000, 60, Some(7)), (1_700_000_000_000, 2000, Some(1))] {
            assert_eq!(clocks.next(Tz::UTC, from, m, w), next_clock(Tz::UTC, from, m, w));
        }
    }

    #[test]
    fn a_long_series_starts_afresh() {
        let mut clocks = Clocks::default();
        let start = 1_700_000_000_000i64;
        for d in 0..(MAX_LEN as i64 + 100) {
            let from = start + d * DAY + 1;
            assert_eq!(clocks.next(Tz::UTC, from, 60, None), next_clock(Tz::UTC, from, 60, None));
        }
        assert!(clocks.zones[0].1[0].times.len() < MAX_LEN);
    }
}
