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

/// Days from 1970-01-01 to a calendar date `YYYY-MM-DD` (Arrow's and Parquet's `DATE`);
/// `None` for anything else.
pub fn days_since_epoch(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..])?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in(y, m) {
        return None;
    }
    // Days from civil (H. Hinnant), with years counted from March.
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
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

    #[test]
    fn days_count_from_1970() {
        for (date, days) in [
            ("1970-01-01", Some(0)),
            ("1969-12-31", Some(-1)),
            ("2000-03-01", Some(11_017)),
            ("2014-09-15", Some(16_328)),
            ("2016-02-29", Some(16_860)),
            ("0001-01-01", Some(-719_162)),
            ("2015-02-29", None),
            ("2014-13-01", None),
            ("2014-9-15", None),
            ("2014-09-1x", None),
        ] {
            assert_eq!(days_since_epoch(date), days, "{date}");
        }
        // Day after day, across leap years and centuries.
        let mut n = days_since_epoch("1899-12-31").unwrap();
        for y in 1900..2101 {
            for m in 1..=12 {
                for d in 1..=days_in(y, m) {
                    n += 1;
                    assert_eq!(days_since_epoch(&format!("{y:04}-{m:02}-{d:02}")), Some(n));
                }
            }
        }
    }
}
