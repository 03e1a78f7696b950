//! ISO 8601 dates as coders write them, expanded into start, end and precision.
//!
//! In: `2014`, `2014-09`, `2014-09-15` or an interval `A/B` of any two of these.
//! Out: inclusive first and last calendar day and a [`DatePrecision`].

use crate::model::{Date, DatePrecision};

/// An expanded date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    /// First possible day.
    pub start: Option<Date>,
    /// Last possible day.
    pub end: Option<Date>,
    /// How precise the date is.
    pub precision: DatePrecision,
}

impl Expanded {
    /// No date given.
    pub fn unknown() -> Expanded {
        Expanded {
            start: None,
            end: None,
            precision: DatePrecision::Unknown,
        }
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// One ISO date of year, month or day precision: `(first day, last day, precision)`.
fn single(s: &str) -> Result<(Date, Date, DatePrecision), String> {
    let bad = || format!("`{s}` is not an ISO 8601 date (write 2014, 2014-09 or 2014-09-15)");
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize| -> Result<u32, String> {
        if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let y = num(parts[0], 4)?;
    if !(1000..=9999).contains(&y) {
        return Err(bad());
    }
    let date = |y: u32, m: u32, d: u32| Date(format!("{y:04}-{m:02}-{d:02}"));
    match parts.len() {
        1 => Ok((date(y, 1, 1), date(y, 12, 31), DatePrecision::Year)),
        2 => {
            let m = num(parts[1], 2)?;
            if !(1..=12).contains(&m) {
                return Err(format!("`{s}`: month {m} does not exist"));
            }
            Ok((
                date(y, m, 1),
                date(y, m, days_in(y, m)),
                DatePrecision::Month,
            ))
        }
        3 => {
            let m = num(parts[1], 2)?;
            let d = num(parts[2], 2)?;
            if !(1..=12).contains(&m) {
                return Err(format!("`{s}`: month {m} does not exist"));
            }
            if d == 0 || d > days_in(y, m) {
                return Err(format!("`{s}`: day {d} does not exist in {y:04}-{m:02}"));
            }
            Ok((date(y, m, d), date(y, m, d), DatePrecision::Day))
        }
        _ => Err(bad()),
    }
}

/// Expands a coder's date.
pub fn expand(s: &str) -> Result<Expanded, String> {
    let s = s.trim();
    match s.split_once('/') {
        None => {
            let (start, end, precision) = single(s)?;
            Ok(Expanded {
                start: Some(start),
                end: Some(end),
                precision,
            })
        }
        Some((a, b)) => {
            let (start, _, _) = single(a)?;
            let (_, end, _) = single(b)?;
            if end < start {
                return Err(format!("`{s}`: the interval ends before it starts"));
            }
            Ok(Expanded {
                start: Some(start),
                end: Some(end),
                precision: DatePrecision::Range,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<(&str, &str, DatePrecision), &str>) {
        let got = expand(input).map(|e| (e.start.unwrap().0, e.end.unwrap().0, e.precision));
        let want = expected
            .map(|(a, b, p)| (a.to_string(), b.to_string(), p))
            .map_err(String::from);
        assert_eq!(got, want, "{input}");
    }

    #[test]
    fn dates_expand() {
        check(
            "2014",
            Ok(("2014-01-01", "2014-12-31", DatePrecision::Year)),
        );
        check(
            "2016-02",
            Ok(("2016-02-01", "2016-02-29", DatePrecision::Month)),
        );
        check(
            "2015-02",
            Ok(("2015-02-01", "2015-02-28", DatePrecision::Month)),
        );
        check(
            "2014-09-15",
            Ok(("2014-09-15", "2014-09-15", DatePrecision::Day)),
        );
        check(
            "2017-04-17/2017-04-26",
            Ok(("2017-04-17", "2017-04-26", DatePrecision::Range)),
        );
        check(
            "2014-10/2014-12",
            Ok(("2014-10-01", "2014-12-31", DatePrecision::Range)),
        );
        check("2014-13", Err("`2014-13`: month 13 does not exist"));
        check(
            "2015-02-29",
            Err("`2015-02-29`: day 29 does not exist in 2015-02"),
        );
        check(
            "14-09",
            Err("`14-09` is not an ISO 8601 date (write 2014, 2014-09 or 2014-09-15)"),
        );
        check(
            "2015/2014",
            Err("`2015/2014`: the interval ends before it starts"),
        );
    }
}
