//! Semantic versions of releases (`MAJOR.MINOR.PATCH`), compared numerically.

use std::fmt;

/// A release version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Breaking changes.
    pub major: u64,
    /// Additions.
    pub minor: u64,
    /// Corrections.
    pub patch: u64,
}

impl Version {
    /// Parses `MAJOR.MINOR.PATCH` (digits only, no leading zeros).
    pub fn parse(s: &str) -> Option<Version> {
        let mut it = s.split('.');
        let mut num = || -> Option<u64> {
            let p = it.next()?;
            let ok = !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'));
            if ok {
                p.parse().ok()
            } else {
                None
            }
        };
        let v = Version {
            major: num()?,
            minor: num()?,
            patch: num()?,
        };
        it.next().is_none().then_some(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(
            Version::parse("1.0.10").map(|v| v.to_string()),
            Some("1.0.10".into())
        );
        assert!(Version::parse("1.0.2").unwrap() < Version::parse("1.0.10").unwrap());
        for bad in ["1.0", "1.0.0.0", "01.0.0", "1.a.0", "", "1..0"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }
}
