//! A lexer for the block-style YAML that coding files are written in: text in, saphyr-parser's
//! events out (the same events, values, styles and start positions), or `None` for anything
//! outside the subset it knows.
//!
//! saphyr-parser reads a character at a time through a look-ahead buffer; this reads a line at
//! a time and borrows every scalar that needs no folding or escape, which makes the fast path
//! of [`super::from_str`] several times faster again. It knows: block mappings whose keys are
//! plain words (`[A-Za-z0-9_]+`), block sequences indented under their key, single-line flow
//! sequences of scalars, plain scalars on one line, single- and double-quoted scalars over any
//! number of lines (folded as YAML folds them), and literal or folded block scalars (`|`, `|-`,
//! `>`, `>-`) whose lines keep one indentation. It declines (`None`) on everything else:
//! anchors, aliases, tags, flow mappings, document markers, directives, tabs, carriage returns,
//! a byte-order mark or any other control character, an empty value, an indentless sequence,
//! a plain scalar over two lines, a key that is not a plain word, and any syntax error. A
//! declined file is read by saphyr-parser (and then by serde-saphyr), so declining is always
//! safe; `tests/yaml_fast_path.rs` checks on every committed coding file, a synthetic corpus,
//! edge cases and random edits of them that this gives saphyr-parser's events or declines.
//!
//! Positions: an event's start has saphyr-parser's line (1-based) and column (0-based, in
//! characters); its index and the span's end are not computed (0 and the start), as the reader
//! uses only the start's line and column.

use std::borrow::Cow;

use saphyr_parser::{Event, Marker, ScalarStyle, Span};

/// An event and its span, as saphyr-parser's `Parser::next_event` gives them.
pub(crate) type Ev<'a> = (Event<'a>, Span);

/// The events of `text`, or `None` when saphyr-parser must read it (see the module comment).
pub(crate) fn lex(text: &str) -> Option<Vec<Ev<'_>>> {
    if !plain_bytes(text.as_bytes()) {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 24);
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    if start < text.len() {
        lines.push((start, text.len()));
    }
    let mut lx = Lx {
        text,
        lines,
        next: 0,
        out: Vec::with_capacity(text.len() / 16),
    };
    lx.document()?;
    Some(lx.out)
}

/// No byte YAML would read otherwise than as text: no control character but the line feed (a
/// tab or carriage return included), no DEL, no C1 control, no byte-order mark, no line or
/// paragraph separator, no U+FFFE or U+FFFF.
fn plain_bytes(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            if (c < 0x20 && c != b'\n') || c == 0x7f {
                return false;
            }
        } else if c == 0xc2 {
            if matches!(b.get(i + 1), Some(0x80..=0x9f)) {
                return false;
            }
        } else if c == 0xef {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf)) => return false,
                _ => {}
            }
        } else if c == 0xe2
            && b.get(i + 1) == Some(&0x80)
            && matches!(b.get(i + 2), Some(0xa8 | 0xa9))
        {
            return false;
        }
        i += 1;
    }
    true
}

/// The length of a plain-word key at the start of `s` when `s` is `key:` followed by a space or
/// the end of the line.
fn key_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (n > 0 && b.get(n) == Some(&b':') && matches!(b.get(n + 1), None | Some(b' '))).then_some(n)
}

/// Whether `s` starts a block sequence entry (`-` then a space or the end of the line).
fn is_entry(s: &str) -> bool {
    s == "-" || s.starts_with("- ")
}

/// `p` moved past spaces in `l`.
fn skip_spaces(l: &str, p: usize) -> usize {
    p + l.as_bytes()[p..].iter().take_while(|c| **c == b' ').count()
}

/// Whether the rest of a line from `p` is spaces, then nothing or a comment after a space.
fn nothing_after(l: &str, p: usize) -> bool {
    let q = skip_spaces(l, p);
    q == l.len() || (q > p && l.as_bytes()[q] == b'#')
}

/// Whether `l` is only spaces.
fn blank(l: &str) -> bool {
    l.bytes().all(|c| c == b' ')
}

struct Lx<'a> {
    text: &'a str,
    /// Byte ranges of the lines, without their line feeds.
    lines: Vec<(usize, usize)>,
    /// The first line not yet read.
    next: usize,
    out: Vec<Ev<'a>>,
}

impl<'a> Lx<'a> {
    fn line(&self, li: usize) -> &'a str {
        let (s, e) = self.lines[li];
        &self.text[s..e]
    }

    fn indent(&self, li: usize) -> usize {
        self.line(li).bytes().take_while(|c| *c == b' ').count()
    }

    /// The first line from `li` on that is neither blank nor a comment.
    fn content(&self, mut li: usize) -> Option<usize> {
        while li < self.lines.len() {
            let l = self.line(li);
            match l.bytes().find(|c| *c != b' ') {
                None | Some(b'#') => li += 1,
                Some(_) => return Some(li),
            }
        }
        None
    }

    /// saphyr-parser's marker at byte `off` of line `li` (its column in characters).
    fn mark(&self, li: usize, off: usize) -> Span {
        let l = &self.line(li).as_bytes()[..off];
        let col = l.iter().filter(|c| (**c as i8) >= -0x40).count();
        let m = Marker::new(0, li + 1, col);
        Span::new(m, m)
    }

    fn push(&mut self, e: Event<'a>, li: usize, off: usize) {
        let span = self.mark(li, off);
        self.out.push((e, span));
    }

    fn scalar(&mut self, v: Cow<'a, str>, style: ScalarStyle, li: usize, off: usize) {
        self.push(Event::Scalar(v, style, 0, None), li, off);
    }

    fn document(&mut self) -> Option<()> {
        self.out.push((Event::StreamStart, Span::default()));
        self.out
            .push((Event::DocumentStart(false), Span::default()));
        let li = self.content(0)?;
        let col = self.indent(li);
        key_len(&self.line(li)[col..])?;
        self.map(li, col)?;
        if self.content(self.next).is_some() {
            return None;
        }
        self.out.push((Event::DocumentEnd, Span::default()));
        self.out.push((Event::StreamEnd, Span::default()));
        Some(())
    }

    /// The node after `line li` ends with nothing: on the next lines, indented more than
    /// `parent`.
    fn below(&mut self, li: usize, parent: usize) -> Option<()> {
        let nl = self.content(li + 1)?;
        let ind = self.indent(nl);
        if ind <= parent {
            // An empty value, or a sequence as indented as its key.
            return None;
        }
        let rest = &self.line(nl)[ind..];
        if is_entry(rest) {
            self.seq(nl, ind)
        } else if key_len(rest).is_some() {
            self.map(nl, ind)
        } else {
            None
        }
    }

    /// A block mapping whose first key is at byte `col` of line `li` (and every other key at
    /// that indentation).
    fn map(&mut self, mut li: usize, col: usize) -> Option<()> {
        self.push(Event::MappingStart(0, None), li, col);
        loop {
            let l = self.line(li);
            let n = key_len(&l[col..])?;
            self.scalar(Cow::Borrowed(&l[col..col + n]), ScalarStyle::Plain, li, col);
            let p = col + n + 1;
            if nothing_after(l, p) {
                self.below(li, col)?;
            } else {
                self.inline(li, skip_spaces(l, p), col)?;
            }
            match self.content(self.next) {
                None => break,
                Some(nl) => match self.indent(nl) {
                    ind if ind < col => break,
                    ind if ind == col => li = nl,
                    _ => return None,
                },
            }
        }
        self.push(Event::MappingEnd, li, col);
        Some(())
    }

    /// A block sequence whose first `-` is at byte `col` of line `li`.
    fn seq(&mut self, mut li: usize, col: usize) -> Option<()> {
        self.push(Event::SequenceStart(0, None), li, col);
        loop {
            let l = self.line(li);
            if nothing_after(l, col + 1) {
                self.below(li, col)?;
            } else {
                let p = skip_spaces(l, col + 1);
                let rest = &l[p..];
                if is_entry(rest) {
                    return None;
                }
                if key_len(rest).is_some() {
                    self.map(li, p)?;
                } else {
                    self.inline(li, p, col)?;
                }
            }
            match self.content(self.next) {
                None => break,
                Some(nl) => match self.indent(nl) {
                    ind if ind < col => break,
                    ind if ind == col && is_entry(&self.line(nl)[col..]) => li = nl,
                    _ => return None,
                },
            }
        }
        self.push(Event::SequenceEnd, li, col);
        Some(())
    }

    /// A scalar or flow sequence starting at byte `p` of line `li`, after a key or a `-` whose
    /// block is indented `parent`.
    fn inline(&mut self, li: usize, p: usize, parent: usize) -> Option<()> {
        match self.line(li).as_bytes()[p] {
            b'\'' => self.quoted(li, p, parent, true),
            b'"' => self.quoted(li, p, parent, false),
            b'[' => self.flow_seq(li, p),
            b'|' | b'>' => self.block_scalar(li, p, parent),
            // `-` only as the sign of a number (`- ` here would be an error).
            b'-' if !is_entry(&self.line(li)[p..]) => self.plain(li, p),
            b'{' | b'&' | b'*' | b'!' | b'?' | b'%' | b'@' | b'`' | b',' | b']' | b'}' | b'#'
            | b':' | b'-' => None,
            _ => self.plain(li, p),
        }
    }

    /// A plain scalar that must end on its line (a more indented line after it, which would
    /// continue it, is declined by the mapping or sequence it is in).
    fn plain(&mut self, li: usize, p: usize) -> Option<()> {
        let l = self.line(li);
        let end = l[p..].find(" #").map_or(l.len(), |k| p + k);
        let v = l[p..end].trim_end_matches(' ');
        if v.contains(": ") || v.ends_with(':') {
            return None;
        }
        self.scalar(Cow::Borrowed(v), ScalarStyle::Plain, li, p);
        self.next = li + 1;
        Some(())
    }

    /// A single- or double-quoted scalar whose opening quote is at byte `p` of line `li`; its
    /// continuation lines must be indented more than `parent`.
    fn quoted(&mut self, li: usize, p: usize, parent: usize, single: bool) -> Option<()> {
        let quote = if single { b'\'' } else { b'"' };
        let style = quote_style(quote);
        // The scalar closed at byte `q` of line `end`: nothing may follow it on that line.
        let close = |lx: &mut Self, v: Cow<'a, str>, end: usize, q: usize| {
            if !nothing_after(lx.line(end), q + 1) {
                return None;
            }
            lx.scalar(v, style, li, p);
            lx.next = end + 1;
            Some(())
        };
        let l = self.line(li);
        // The common case: on one line, nothing to unescape.
        if let Some(k) = l.as_bytes()[p + 1..]
            .iter()
            .position(|c| *c == quote || (!single && *c == b'\\'))
        {
            let q = p + 1 + k;
            if l.as_bytes()[q] == quote && l.as_bytes().get(q + 1) != Some(&quote) {
                return close(self, Cow::Borrowed(&l[p + 1..q]), li, q);
            }
        }
        let mut v = String::new();
        let (mut cur, mut i) = (li, p + 1);
        loop {
            let l = self.line(cur);
            let b = l.as_bytes();
            // Text up to here that a fold must not trim (from earlier lines, or an escape).
            let mut kept = v.len();
            let mut j = i;
            let closed = loop {
                match b.get(j) {
                    None => break None,
                    Some(&c) if c == quote => {
                        if single && b.get(j + 1) == Some(&b'\'') {
                            v.push_str(&l[i..j]);
                            v.push('\'');
                            j += 2;
                            i = j;
                            kept = v.len();
                        } else {
                            v.push_str(&l[i..j]);
                            break Some(j);
                        }
                    }
                    Some(b'\\') if !single => {
                        v.push_str(&l[i..j]);
                        let (c, len) = escape(&l[j + 1..])?;
                        v.push(c);
                        j += 1 + len;
                        i = j;
                        kept = v.len();
                    }
                    Some(_) => j += 1,
                }
            };
            if let Some(q) = closed {
                return close(self, Cow::Owned(v), cur, q);
            }
            // The line ends inside the scalar: trailing spaces go, and the break folds.
            v.push_str(&l[i..]);
            let trimmed = v.trim_end_matches(' ').len().max(kept);
            v.truncate(trimmed);
            let mut breaks = 0;
            let mut nl = cur + 1;
            loop {
                if nl >= self.lines.len() {
                    return None;
                }
                if blank(self.line(nl)) {
                    breaks += 1;
                    nl += 1;
                } else {
                    break;
                }
            }
            let ind = self.indent(nl);
            if ind <= parent {
                return None;
            }
            fold(&mut v, breaks);
            cur = nl;
            i = ind;
        }
    }

    /// A flow sequence of scalars on one line, `[` at byte `p` of line `li`.
    fn flow_seq(&mut self, li: usize, p: usize) -> Option<()> {
        let l = self.line(li);
        let b = l.as_bytes();
        self.push(Event::SequenceStart(0, None), li, p);
        let mut i = skip_spaces(l, p + 1);
        if b.get(i) != Some(&b']') {
            loop {
                let c = *b.get(i)?;
                let end = match c {
                    b'\'' | b'"' => {
                        let q = b[i + 1..].iter().position(|x| *x == c)? + i + 1;
                        let v = &l[i + 1..q];
                        if v.contains('\\') || (c == b'\'' && b.get(q + 1) == Some(&b'\'')) {
                            return None;
                        }
                        self.scalar(Cow::Borrowed(v), quote_style(c), li, i);
                        q + 1
                    }
                    b'[' | b']' | b'{' | b'}' | b',' | b'&' | b'*' | b'!' | b'?' | b'%' | b'@'
                    | b'`' | b'#' | b':' | b'|' | b'>' | b' ' => return None,
                    b'-' if matches!(b.get(i + 1), None | Some(b' ' | b',' | b']')) => return None,
                    _ => {
                        let n = b[i..].iter().position(|x| {
                            matches!(x, b',' | b']' | b'[' | b'{' | b'}' | b'#' | b':')
                        })?;
                        let v = l[i..i + n].trim_end_matches(' ');
                        // A `#` or `:` ends nothing here: leave such a scalar to saphyr-parser.
                        if !matches!(b[i + n], b',' | b']') {
                            return None;
                        }
                        self.scalar(Cow::Borrowed(v), ScalarStyle::Plain, li, i);
                        i + v.len()
                    }
                };
                i = skip_spaces(l, end);
                match b.get(i) {
                    Some(b',') => {
                        i = skip_spaces(l, i + 1);
                        if b.get(i) == Some(&b']') {
                            return None;
                        }
                    }
                    Some(b']') => break,
                    _ => return None,
                }
            }
        }
        self.push(Event::SequenceEnd, li, i);
        if !nothing_after(l, i + 1) {
            return None;
        }
        self.next = li + 1;
        Some(())
    }

    /// A literal or folded block scalar whose indicator is at byte `p` of line `li`: no
    /// explicit indentation, chomping clip or strip, every line at the first line's indentation
    /// (a literal's may be deeper), which is deeper than `parent`.
    fn block_scalar(&mut self, li: usize, p: usize, parent: usize) -> Option<()> {
        let l = self.line(li);
        let literal = l.as_bytes()[p] == b'|';
        let (strip, h) = match l.as_bytes().get(p + 1) {
            Some(b'-') => (true, p + 2),
            _ => (false, p + 1),
        };
        if !nothing_after(l, h) {
            return None;
        }
        // The first line: not blank, deeper than the parent.
        let first = li + 1;
        if first >= self.lines.len() || blank(self.line(first)) {
            return None;
        }
        let m = self.indent(first);
        if m <= parent {
            return None;
        }
        let mut v = String::new();
        let mut cur = first;
        let mut breaks = 0usize;
        let mut last = first;
        while cur < self.lines.len() {
            let t = self.line(cur);
            if blank(t) {
                if t.len() > m {
                    return None;
                }
                breaks += 1;
                cur += 1;
                continue;
            }
            let ind = self.indent(cur);
            if ind < m {
                break;
            }
            if ind > m && !literal {
                return None;
            }
            if cur > first {
                if literal {
                    v.extend(std::iter::repeat_n('\n', breaks + 1));
                } else {
                    fold(&mut v, breaks);
                }
            }
            v.push_str(&t[m..]);
            breaks = 0;
            last = cur;
            cur += 1;
        }
        if !strip {
            v.push('\n');
        }
        let style = if literal {
            ScalarStyle::Literal
        } else {
            ScalarStyle::Folded
        };
        // saphyr-parser places a block scalar where its text starts.
        self.scalar(Cow::Owned(v), style, first, m);
        self.next = last + 1;
        Some(())
    }
}

/// YAML's line folding: a line break between two lines of text is a space, unless blank lines
/// follow it (`breaks` of them), which are that many line feeds.
fn fold(v: &mut String, breaks: usize) {
    if breaks == 0 {
        v.push(' ');
    } else {
        v.extend(std::iter::repeat_n('\n', breaks));
    }
}

/// The style of a scalar quoted with `quote` (`'` or `"`).
fn quote_style(quote: u8) -> ScalarStyle {
    if quote == b'\'' {
        ScalarStyle::SingleQuoted
    } else {
        ScalarStyle::DoubleQuoted
    }
}

/// The character a double-quoted escape stands for (`s` starts after the backslash) and how
/// many bytes of `s` it takes; `None` for an escaped line break or an unknown escape.
fn escape(s: &str) -> Option<(char, usize)> {
    let c = *s.as_bytes().first()?;
    let simple = match c {
        b'0' => '\0',
        b'a' => '\x07',
        b'b' => '\x08',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\x0b',
        b'f' => '\x0c',
        b'r' => '\r',
        b'e' => '\x1b',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(1..1 + n)?;
            if !hex.bytes().all(|x| x.is_ascii_hexdigit()) {
                return None;
            }
            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
            return Some((ch, 1 + n));
        }
        _ => return None,
    };
    Some((simple, 1))
}
