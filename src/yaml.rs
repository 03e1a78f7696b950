//! The fast path for reading coding files: YAML text in, a typed value out, or nothing.
//!
//! In: the text of a coding file and a target type (the structs of [`crate::codings`]). Out:
//! the value serde-saphyr would give for the same text, or `None` whenever this reader cannot
//! be sure of that. It then leaves the file to serde-saphyr, which gives both the value and,
//! for a bad file, the diagnostic, so that what a coding file means and every error message
//! are serde-saphyr's alone.
//!
//! The value is read from saphyr-parser's events, about three times faster than serde-saphyr
//! reads the file. The events come from the lexer of `lex.rs` for the block-style YAML that
//! coding files are written in (the same events saphyr-parser gives, several times faster
//! again), and from saphyr-parser itself for a file the lexer declines.
//!
//! This reader declines (returns `None`) on anything it does not handle the way serde-saphyr
//! does by construction: anchors, aliases and tags; a file that is not exactly one document;
//! a plain scalar whose type YAML would resolve (`null`, `~` or nothing where a string is
//! wanted, a number that is not written as plain decimal digits, a boolean other than `true`
//! or `false`); a quoted scalar where a number or a boolean is wanted; enums, tuples, bytes;
//! a repeated key in a map; and any error at all (a syntax error, a missing or unknown field).
//! `Spanned<T>` values get the line and column serde-saphyr gives them (line 1-based, column
//! 1-based in characters), through the representation serde-saphyr's `Spanned<T>` reads.
//! `tests/yaml_fast_path.rs` checks that both readers give the same value, positions included,
//! for every committed coding file and a synthetic corpus.

use std::borrow::Cow;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

mod lex;

/// Reads `text` as `T`, or `None` when serde-saphyr must read it (see the module comment).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    let source = match lex::lex(text) {
        Some(events) => Source::Lexed(events.into_iter()),
        None => Source::Parser(Box::new(Parser::new_from_str(text))),
    };
    let mut r = Reader {
        source,
        peeked: None,
    };
    if !matches!(r.next().ok()?.0, Event::StreamStart)
        || !matches!(r.next().ok()?.0, Event::DocumentStart(_))
    {
        return None;
    }
    let value = T::deserialize(&mut r).ok()?;
    if !matches!(r.next().ok()?.0, Event::DocumentEnd)
        || !matches!(r.next().ok()?.0, Event::StreamEnd)
    {
        return None;
    }
    Some(value)
}

/// The events of `text` as [`lex`] gives them (saphyr-parser's events, or `None` where it
/// declines), for the tests that compare the two.
#[doc(hidden)]
pub fn lexed(text: &str) -> Option<Vec<(Event<'_>, Span)>> {
    lex::lex(text)
}

/// Why the fast path gave up; never shown to anyone (serde-saphyr reads the file instead).
#[derive(Debug)]
pub struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde-saphyr")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Declined
    }
}

type R<T> = Result<T, Declined>;

/// Where the events come from: the lexer's list, or saphyr-parser for a file the lexer declined.
enum Source<'a> {
    Lexed(std::vec::IntoIter<(Event<'a>, Span)>),
    Parser(Box<Parser<'a, StrInput<'a>>>),
}

/// The event stream with one event of look-ahead.
struct Reader<'a> {
    source: Source<'a>,
    peeked: Option<(Event<'a>, Span)>,
}

impl<'a> Reader<'a> {
    fn peek(&mut self) -> R<&(Event<'a>, Span)> {
        if self.peeked.is_none() {
            self.peeked = Some(self.pull()?);
        }
        self.peeked.as_ref().ok_or(Declined)
    }

    fn next(&mut self) -> R<(Event<'a>, Span)> {
        match self.peeked.take() {
            Some(e) => Ok(e),
            None => self.pull(),
        }
    }

    fn pull(&mut self) -> R<(Event<'a>, Span)> {
        match &mut self.source {
            Source::Lexed(events) => events.next().ok_or(Declined),
            Source::Parser(parser) => match parser.next_event() {
                Some(Ok(e)) => Ok(e),
                _ => Err(Declined),
            },
        }
    }

    /// The next event as a scalar without anchor or tag.
    fn scalar(&mut self) -> R<(Cow<'a, str>, ScalarStyle)> {
        match self.next()?.0 {
            Event::Scalar(v, style, 0, None) => Ok((v, style)),
            _ => Err(Declined),
        }
    }

    /// A plain scalar (for numbers and booleans: their type is read from plain text only).
    fn plain(&mut self) -> R<Cow<'a, str>> {
        match self.scalar()? {
            (v, ScalarStyle::Plain) => Ok(v),
            _ => Err(Declined),
        }
    }

    /// Skips one node, however deep.
    fn skip(&mut self) -> R<()> {
        let mut depth = 0usize;
        loop {
            match self.next()?.0 {
                Event::Scalar(_, _, 0, None) => {}
                Event::SequenceStart(0, None) | Event::MappingStart(0, None) => depth += 1,
                Event::SequenceEnd | Event::MappingEnd => {
                    depth = depth.checked_sub(1).ok_or(Declined)?
                }
                _ => return Err(Declined),
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

/// serde-saphyr's null for an optional value (`scalar_is_nullish`).
fn is_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

/// An integer written as YAML's plain decimal form: `-?(0|[1-9][0-9]*)`.
fn is_decimal_int(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v).as_bytes();
    match digits {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => digits.iter().all(u8::is_ascii_digit),
    }
}

/// A number written as plain decimal digits with an optional fraction: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`.
fn is_decimal(v: &str) -> bool {
    match v.split_once('.') {
        None => is_decimal_int(v),
        Some((int, frac)) => {
            is_decimal_int(int) && !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

macro_rules! decline {
    ($($name:ident)*) => {
        $(fn $name<V: Visitor<'de>>(self, _visitor: V) -> R<V::Value> {
            Err(Declined)
        })*
    };
}

/// Integers of every width are read as `i64`/`u64`; the visitor checks the range.
macro_rules! integers_as_i64 {
    ($($name:ident)*) => {
        $(fn $name<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
            self.deserialize_i64(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Declined;

    decline! {
        deserialize_any deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_i128 deserialize_u128
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match &*self.plain()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(Declined),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let v = self.plain()?;
        if !is_decimal_int(&v) {
            return Err(Declined);
        }
        if v.starts_with('-') {
            visitor.visit_i64(v.parse().map_err(|_| Declined)?)
        } else {
            visitor.visit_u64(v.parse().map_err(|_| Declined)?)
        }
    }

    integers_as_i64! {
        deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        let v = self.plain()?;
        if !is_decimal(&v) {
            return Err(Declined);
        }
        visitor.visit_f64(v.parse().map_err(|_| Declined)?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match self.scalar()? {
            (v, ScalarStyle::Plain) if is_null(&v) => Err(Declined),
            (Cow::Borrowed(v), _) => visitor.visit_borrowed_str(v),
            (Cow::Owned(v), _) => visitor.visit_string(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match &self.peek()?.0 {
            Event::Scalar(v, ScalarStyle::Plain, 0, None) if is_null(v) => {
                self.next()?;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> R<V::Value> {
        Err(Declined)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> R<V::Value> {
        if name == SPANNED {
            let start = self.peek()?.1.start;
            let line = u64::try_from(start.line()).map_err(|_| Declined)?;
            let column = u64::try_from(start.col() + 1).map_err(|_| Declined)?;
            visitor.visit_newtype_struct(SpannedDe {
                r: self,
                line,
                column,
            })
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        if !matches!(self.next()?.0, Event::SequenceStart(0, None)) {
            return Err(Declined);
        }
        let mut seq = Seq {
            r: self,
            ended: false,
        };
        let value = visitor.visit_seq(&mut seq)?;
        if seq.ended {
            Ok(value)
        } else {
            Err(Declined)
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> R<V::Value> {
        Err(Declined)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> R<V::Value> {
        Err(Declined)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.mapping(visitor, Some(Vec::new()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> R<V::Value> {
        // A derived struct rejects a repeated field itself.
        self.mapping(visitor, None)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> R<V::Value> {
        Err(Declined)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }
}

impl<'de> Reader<'de> {
    /// A mapping; `seen` collects its keys when repeated keys must be caught here.
    fn mapping<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        seen: Option<Vec<Cow<'de, str>>>,
    ) -> R<V::Value> {
        if !matches!(self.next()?.0, Event::MappingStart(0, None)) {
            return Err(Declined);
        }
        let mut map = Map {
            r: self,
            ended: false,
            seen,
        };
        let value = visitor.visit_map(&mut map)?;
        if map.ended {
            Ok(value)
        } else {
            Err(Declined)
        }
    }
}

struct Seq<'r, 'de> {
    r: &'r mut Reader<'de>,
    ended: bool,
}

impl<'de> de::SeqAccess<'de> for &mut Seq<'_, 'de> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> R<Option<T::Value>> {
        if matches!(self.r.peek()?.0, Event::SequenceEnd) {
            self.r.next()?;
            self.ended = true;
            return Ok(None);
        }
        seed.deserialize(&mut *self.r).map(Some)
    }
}

struct Map<'r, 'de> {
    r: &'r mut Reader<'de>,
    ended: bool,
    seen: Option<Vec<Cow<'de, str>>>,
}

impl<'de> de::MapAccess<'de> for &mut Map<'_, 'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        match &self.r.peek()?.0 {
            Event::MappingEnd => {
                self.r.next()?;
                self.ended = true;
                return Ok(None);
            }
            Event::Scalar(key, _, 0, None) => {
                if let Some(seen) = &mut self.seen {
                    if seen.contains(key) {
                        return Err(Declined);
                    }
                    seen.push(key.clone());
                }
            }
            _ => return Err(Declined),
        }
        seed.deserialize(&mut *self.r).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> R<V::Value> {
        seed.deserialize(&mut *self.r)
    }
}

/// The newtype name by which serde-saphyr's `Spanned<T>` asks for its value and position.
const SPANNED: &str = "__yaml_spanned";
/// The first key of the map serde-saphyr's `Spanned<T>` reads (it marks the map as positions).
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

/// `{marker: true, value: T, referenced: Location, defined: Location}`, as serde-saphyr gives
/// it for a node that is not an alias (the two locations are the node's own).
struct SpannedDe<'r, 'de> {
    r: &'r mut Reader<'de>,
    line: u64,
    column: u64,
}

impl<'de> de::Deserializer<'de> for SpannedDe<'_, 'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        visitor.visit_map(SpannedMap { de: self, state: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct SpannedMap<'r, 'de> {
    de: SpannedDe<'r, 'de>,
    state: u8,
}

impl<'de> de::MapAccess<'de> for SpannedMap<'_, 'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        let key = match self.state {
            0 => SPANNED_MARKER,
            1 => "value",
            2 => "referenced",
            3 => "defined",
            _ => return Ok(None),
        };
        self.state += 1;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> R<V::Value> {
        match self.state {
            1 => seed.deserialize(true.into_deserializer()),
            2 => seed.deserialize(&mut *self.de.r),
            3 | 4 => seed.deserialize(LocationDe {
                line: self.de.line,
                column: self.de.column,
            }),
            _ => Err(Declined),
        }
    }
}

/// A location as `{line, column}` (serde-saphyr's `Location` fills in the rest itself).
struct LocationDe {
    line: u64,
    column: u64,
}

impl<'de> de::Deserializer<'de> for LocationDe {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        visitor.visit_map(de::value::MapDeserializer::new(
            [("line", self.line), ("column", self.column)].into_iter(),
        ))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_only_in_their_plain_decimal_form() {
        for ok in ["0", "7", "-3", "120", "-0"] {
            assert!(is_decimal_int(ok), "{ok}");
        }
        for no in [
            "", "-", "007", "+5", "1_000", "0x1f", "0o7", "1e3", "3.0", " 1",
        ] {
            assert!(!is_decimal_int(no), "{no}");
        }
        for ok in ["0.5", "36.25", "-12.0", "40"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for no in [".5", "5.", "1e5", "-.5", "01.5", "1.2.3", ".inf", "NaN"] {
            assert!(!is_decimal(no), "{no}");
        }
    }
}
