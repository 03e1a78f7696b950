//! Source texts: raw bytes in, canonical text, hashes and quote spans out.
//!
//! In: the bytes of a file in `seeds/`. Out: a [`SourceText`] (canonical text: UTF-8, no BOM,
//! LF line ends, NFC; its sha256; the raw sha256 and sizes) and, for a coder's quote, the
//! [`Span`] where it occurs, tolerating only white-space differences.

use unicode_normalization::UnicodeNormalization;

use crate::tables::sha256_hex;

/// Code points between two marks of a [`SourceText`]'s offset index.
const MARK: usize = 64;

/// A source's canonical text and its hashes.
#[derive(Clone, Debug)]
pub struct SourceText {
    /// The canonical text.
    pub text: String,
    /// sha256 of the raw bytes.
    pub sha256: String,
    /// sha256 of the canonical text.
    pub text_sha256: String,
    /// Size of the raw file in bytes.
    pub bytes: usize,
    /// Code points of the canonical text.
    pub chars: usize,
    /// Byte offset of every [`MARK`]th code point, to turn char offsets into byte offsets
    /// (a walk of fewer than [`MARK`] code points from the nearest mark).
    marks: Vec<usize>,
    /// The text with every run of white space as one space, and where its bytes come from in
    /// `text`: built on the first quote search.
    squeezed: std::sync::OnceLock<Squeezed>,
}

/// Why raw bytes are not a valid source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The bytes are not UTF-8.
    #[error("not valid UTF-8 at byte offset {offset} (line {line}): re-save the file as UTF-8")]
    NotUtf8 {
        /// First invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
}

/// Canonical form of a text: BOM dropped, CRLF and CR turned into LF, NFC.
pub fn canonicalize(raw: &str) -> String {
    let s = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    let s = if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    };
    nfc(s)
}

/// Whether a text is already in canonical form (no BOM, no CR, NFC), without copying it.
pub fn is_canonical(text: &str) -> bool {
    !text.starts_with('\u{feff}')
        && memchr::memchr(b'\r', text.as_bytes()).is_none()
        && is_nfc(text)
}

/// Which code points of the Basic Multilingual Plane are starters (combining class 0) that are
/// NFC by themselves: the NFC quick check restarts at such a character, so runs of them need no
/// further look. A bitmap, built once.
fn plain_starters() -> &'static [u64] {
    static BITS: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    BITS.get_or_init(|| {
        let mut bits = vec![0u64; 1 << 10];
        for cp in 0..0x1_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let plain = unicode_normalization::char::canonical_combining_class(c) == 0
                && unicode_normalization::is_nfc_quick(std::iter::once(c))
                    == unicode_normalization::IsNormalized::Yes;
            if plain {
                bits[(cp >> 6) as usize] |= 1 << (cp & 63);
            }
        }
        bits
    })
}

/// Whether a text is NFC: runs of plain starters are skipped, the quick check runs on what
/// lies between them (from the starter before), and a full comparison settles a "maybe".
///
/// Reads the bytes: a lead byte below `0xCC` starts a code point below U+0300 (always a plain
/// starter), two-byte code points are decoded in place, and only longer ones go through `char`.
fn is_nfc(text: &str) -> bool {
    use unicode_normalization::IsNormalized;
    let bits = plain_starters();
    let in_bits = |cp: u32| cp < 0x1_0000 && bits[(cp >> 6) as usize] & (1 << (cp & 63)) != 0;
    let bytes = text.as_bytes();
    let check = |seg: &str| unicode_normalization::is_nfc_quick(seg.chars());
    let mut previous = 0; // byte offset of the code point before `i`
    let mut pending: Option<usize> = None; // start of a segment that needs the quick check
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (plain, len) = if b < 0x80 {
            (true, 1)
        } else if b < 0xCC {
            (true, 2)
        } else if b < 0xE0 {
            let cp = (u32::from(b & 0x1F) << 6) | u32::from(bytes[i + 1] & 0x3F);
            (in_bits(cp), 2)
        } else {
            let c = text[i..].chars().next().expect("a code point starts here");
            (in_bits(c as u32), c.len_utf8())
        };
        if plain {
            if let Some(from) = pending.take() {
                match check(&text[from..i]) {
                    IsNormalized::Yes => {}
                    IsNormalized::No => return false,
                    IsNormalized::Maybe => return text.nfc().eq(text.chars()),
                }
            }
        } else if pending.is_none() {
            // From the plain starter before (or the start of the text).
            pending = Some(previous);
        }
        previous = i;
        i += len;
    }
    match pending.map(|from| check(&text[from..])) {
        None | Some(IsNormalized::Yes) => true,
        Some(IsNormalized::No) => false,
        Some(IsNormalized::Maybe) => text.nfc().eq(text.chars()),
    }
}

/// NFC of a string, skipping the work when a quick check says it already is.
fn nfc(s: String) -> String {
    if is_nfc(&s) {
        s
    } else {
        s.nfc().collect()
    }
}

impl SourceText {
    /// Builds the canonical text of raw file bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<SourceText, TextError> {
        SourceText::from_bytes_hashed(raw, None)
    }

    /// [`SourceText::from_bytes`] when the sha256 of the raw bytes may be known already. A text
    /// that is its own canonical form (the usual case) is hashed once, not twice.
    pub fn from_bytes_hashed(
        raw: &[u8],
        raw_sha256: Option<String>,
    ) -> Result<SourceText, TextError> {
        // SIMD check first; the standard one only to say where a bad byte is.
        let decoded = simdutf8::basic::from_utf8(raw)
            .or_else(|_| std::str::from_utf8(raw))
            .map_err(|e| {
                let offset = e.valid_up_to();
                let line = raw[..offset].iter().filter(|b| **b == b'\n').count() + 1;
                TextError::NotUtf8 { offset, line }
            })?;
        let text = canonicalize(decoded);
        let sha256 = raw_sha256.unwrap_or_else(|| sha256_hex(raw));
        let text_sha256 = if text.as_bytes() == raw {
            sha256.clone()
        } else {
            sha256_hex(text.as_bytes())
        };
        Ok(SourceText::new(text, text_sha256, sha256, raw.len()))
    }

    /// Wraps an already canonical text (an archived `sources/<id>.txt`).
    pub fn from_canonical(text: String) -> SourceText {
        let sha = sha256_hex(text.as_bytes());
        let len = text.len();
        SourceText::new(text, sha.clone(), sha, len)
    }

    /// [`SourceText::from_canonical`] when the sha256 of the text is already known.
    pub fn from_canonical_hashed(text: String, text_sha256: String) -> SourceText {
        let len = text.len();
        SourceText::new(text, text_sha256.clone(), text_sha256, len)
    }

    fn new(text: String, text_sha256: String, sha256: String, bytes: usize) -> SourceText {
        const { assert!(MARK >= 64) };
        let mut marks = Vec::with_capacity(text.len() / MARK + 1);
        let mut chars = 0usize;
        // The first byte of a code point is not a continuation byte (10xxxxxx).
        let starts = |b: u8| (b as i8) >= -0x40;
        // Code points counted 64 bytes at a time (a loop the compiler vectorises); a block holds
        // at most 64 code points, so at most one mark, found by walking that block alone.
        for (k, block) in text.as_bytes().chunks(64).enumerate() {
            let n = block.iter().filter(|&&b| starts(b)).count();
            let mark = chars.next_multiple_of(MARK);
            if mark < chars + n {
                let j = block
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| starts(b))
                    .nth(mark - chars)
                    .map(|(j, _)| j)
                    .expect("the mark lies in this block");
                marks.push(k * 64 + j);
            }
            chars += n;
        }
        SourceText {
            text_sha256,
            chars,
            text,
            sha256,
            bytes,
            marks,
            squeezed: std::sync::OnceLock::new(),
        }
    }

    /// Byte offset of a code-point offset (`None` past the end).
    pub fn byte_of(&self, char_offset: usize) -> Option<usize> {
        if char_offset >= self.chars {
            return (char_offset == self.chars).then_some(self.text.len());
        }
        let from = self.marks[char_offset / MARK];
        let (i, _) = self.text[from..].char_indices().nth(char_offset % MARK)?;
        Some(from + i)
    }

    /// Code-point offset of a byte offset that is a char boundary.
    pub fn char_of(&self, byte_offset: usize) -> Option<usize> {
        if byte_offset == self.text.len() {
            return Some(self.chars);
        }
        if byte_offset > self.text.len() || !self.text.is_char_boundary(byte_offset) {
            return None;
        }
        let k = self.marks.partition_point(|&m| m <= byte_offset) - 1;
        Some(k * MARK + self.text[self.marks[k]..byte_offset].chars().count())
    }

    /// The canonical text between two code-point offsets.
    pub fn slice(&self, char_start: usize, char_end: usize) -> Option<&str> {
        let (b0, b1) = (self.byte_of(char_start)?, self.byte_of(char_end)?);
        (b0 <= b1).then(|| &self.text[b0..b1])
    }

    /// 1-based line and column (in code points) of a byte offset.
    pub fn line_col(&self, byte_offset: usize) -> (usize, usize) {
        let before = &self.text[..byte_offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Every occurrence of `quote` in the text, as byte ranges, white space tolerant:
    /// each run of white space in the quote matches a run of white space in the text.
    ///
    /// Every occurrence is found, overlapping ones too: the quote with each white-space run as
    /// one space is searched (memchr's SIMD `memmem`) in the text squeezed the same way.
    pub fn find_all(&self, quote: &str) -> Vec<(usize, usize)> {
        let needle = squeeze(&nfc(quote.to_string()));
        if needle.is_empty() {
            return Vec::new();
        }
        let squeezed = self.squeezed.get_or_init(|| Squeezed::new(&self.text));
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut hits = Vec::new();
        let mut from = 0;
        while let Some(i) = finder.find(&squeezed.text.as_bytes()[from..]) {
            let start = from + i;
            let end = start + needle.len();
            hits.push((squeezed.source(start), squeezed.source(end - 1) + 1));
            from = start
                + squeezed.text[start..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
        }
        hits
    }

    /// Whether `needle` occurs at least once (white space tolerant).
    pub fn contains(&self, needle: &str) -> bool {
        !self.find_all(needle).is_empty()
    }

    /// A [`Span`] for a byte range of the text.
    pub fn span(&self, byte_start: usize, byte_end: usize) -> Span {
        let char_start = self.char_of(byte_start).unwrap_or(0);
        let char_end = self.char_of(byte_end).unwrap_or(char_start);
        let pre_start = char_start.saturating_sub(CONTEXT);
        let suf_end = (char_end + CONTEXT).min(self.chars);
        Span {
            char_start,
            char_end,
            byte_start,
            byte_end,
            exact: self.text[byte_start..byte_end].to_string(),
            prefix: self.slice(pre_start, char_start).unwrap_or("").to_string(),
            suffix: self.slice(char_end, suf_end).unwrap_or("").to_string(),
        }
    }

    /// The passage that best matches a quote that was not found, and where they part:
    /// `(byte offset of the passage, passage, number of quote chars that matched)`.
    pub fn closest(&self, quote: &str) -> Option<Closest> {
        let q: Vec<char> = squeeze(&nfc(quote.to_string())).chars().collect();
        if q.is_empty() {
            return None;
        }
        let text = &self.text;
        let mut best: Option<(usize, usize)> = None; // (byte start, matched chars)
        for (start, c) in text.char_indices() {
            if c != q[0] {
                continue;
            }
            let matched = match_len(&text[start..], &q);
            if best.is_none_or(|(_, m)| matched > m) {
                best = Some((start, matched));
            }
        }
        // Fall back on the longest matching quote suffix when even the first char is absent.
        let (start, matched) = best.unwrap_or((0, 0));
        let passage: String = text[start..].chars().take(q.len() + 10).collect();
        Some(Closest {
            byte_offset: start,
            passage,
            matched,
            quote_chars: q.len(),
        })
    }
}

/// Where a missing quote comes closest to the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closest {
    /// Byte offset of the passage in the canonical text.
    pub byte_offset: usize,
    /// The passage, as long as the quote and a little more.
    pub passage: String,
    /// How many characters of the (white-space squeezed) quote matched before the first difference.
    pub matched: usize,
    /// Length of the squeezed quote.
    pub quote_chars: usize,
}

/// Code points of context kept each side of a span (W3C TextQuoteSelector).
pub const CONTEXT: usize = 32;

/// A text with every run of white space as one space, and where its bytes come from.
#[derive(Clone, Debug)]
struct Squeezed {
    text: String,
    /// `(offset in text, offset in the source)` wherever the difference between the two
    /// changes (after a run of white space that is not one byte long), in order; a squeezed
    /// space maps to the start of its run.
    jumps: Vec<(u32, u32)>,
}

impl Squeezed {
    /// Only what differs is copied: the text between runs of white space that are not one
    /// ASCII space is copied whole. Bytes are scanned against a table of those that can start a
    /// white space character; only the lead bytes of the non-ASCII ones (U+0085, U+00A0,
    /// U+1680, U+2000 to U+3000) are decoded.
    fn new(source: &str) -> Squeezed {
        let bytes = source.as_bytes();
        let mut text = String::with_capacity(source.len());
        let mut jumps = Vec::new();
        let (mut copied, mut i) = (0, 0);
        loop {
            while i < bytes.len() && !MAY_START_SPACE[usize::from(bytes[i])] {
                i += 1;
            }
            if i == bytes.len() {
                break;
            }
            let n = space_at(source, i);
            if n == 0 {
                i += 1; // a lead byte that is not white space; its continuation bytes are not in the table
                continue;
            }
            let mut end = i + n;
            while end < bytes.len() {
                match space_at(source, end) {
                    0 => break,
                    m => end += m,
                }
            }
            if end - i > 1 || bytes[i] != b' ' {
                text.push_str(&source[copied..i]);
                text.push(' ');
                if end - i != 1 {
                    jumps.push((text.len() as u32, end as u32));
                }
                copied = end;
            }
            i = end;
        }
        text.push_str(&source[copied..]);
        Squeezed { text, jumps }
    }

    /// Byte offset in the source of the byte at `offset` in the squeezed text.
    fn source(&self, offset: usize) -> usize {
        match self.jumps.partition_point(|&(at, _)| at as usize <= offset) {
            0 => offset,
            k => {
                let (at, to) = self.jumps[k - 1];
                to as usize + (offset - at as usize)
            }
        }
    }
}

/// Bytes that can start a white space character: the ASCII ones (each a white space character
/// by itself) and the lead bytes of the others.
const MAY_START_SPACE: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let bytes = [
        b'\t', b'\n', 0x0B, 0x0C, b'\r', b' ', 0xC2, 0xE1, 0xE2, 0xE3,
    ];
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
};

/// Length in bytes of the white space character at byte `i` of `s` (0 if there is none).
#[inline]
fn space_at(s: &str, i: usize) -> usize {
    let b = s.as_bytes()[i];
    if !MAY_START_SPACE[usize::from(b)] {
        0
    } else if b.is_ascii() {
        1
    } else {
        s[i..]
            .chars()
            .next()
            .filter(|c| c.is_whitespace())
            .map_or(0, char::len_utf8)
    }
}

/// The words of `s` joined by single spaces (white space at either end dropped).
fn squeeze(s: &str) -> String {
    s.split(char::is_whitespace)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn match_len(text: &str, q: &[char]) -> usize {
    let mut it = text.chars().peekable();
    let mut n = 0;
    while n < q.len() {
        let Some(&c) = it.peek() else { break };
        if q[n] == ' ' {
            if !c.is_whitespace() {
                break;
            }
            while it.peek().is_some_and(|c| c.is_whitespace()) {
                it.next();
            }
            n += 1;
        } else if c == q[n] {
            it.next();
            n += 1;
        } else {
            break;
        }
    }
    n
}

/// A located quote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// Start in code points.
    pub char_start: usize,
    /// End in code points (exclusive).
    pub char_end: usize,
    /// Start in bytes.
    pub byte_start: usize,
    /// End in bytes (exclusive).
    pub byte_end: usize,
    /// The text's own characters.
    pub exact: String,
    /// Up to [`CONTEXT`] code points before.
    pub prefix: String,
    /// Up to [`CONTEXT`] code points after.
    pub suffix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_drops_bom_and_normalises_line_ends() {
        let t = SourceText::from_bytes("\u{feff}a\r\nb\rc".as_bytes()).unwrap();
        assert_eq!(t.text, "a\nb\nc");
        assert_eq!(t.chars, 5);
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let err = SourceText::from_bytes(b"ab\ncd\xff").unwrap_err();
        assert_eq!(err, TextError::NotUtf8 { offset: 5, line: 2 });
    }

    #[test]
    fn quotes_match_across_nbsp_and_line_breaks_only() {
        let t = SourceText::from_canonical("قال\u{a0}م د\nهنا، و قال".to_string());
        assert_eq!(t.find_all("قال م د هنا،").len(), 1);
        assert_eq!(t.find_all("قال").len(), 2);
        assert!(t.find_all("قالم").is_empty());
        let (b0, b1) = t.find_all("م د هنا")[0];
        let s = t.span(b0, b1);
        assert_eq!(s.exact, "م د\nهنا");
        assert_eq!(t.slice(s.char_start, s.char_end), Some("م د\nهنا"));
        assert_eq!(s.prefix, "قال\u{a0}");
    }

    #[test]
    fn quotes_are_found_at_byte_offsets_of_the_original_text_even_overlapping() {
        let t = SourceText::from_canonical("  أ\n\n ب أ  ب أ ب".to_string());
        let hits = t.find_all("أ ب أ");
        assert_eq!(hits.len(), 2, "{hits:?}");
        for (s, e) in &hits {
            let found: Vec<&str> = t.text[*s..*e].split_whitespace().collect();
            assert_eq!(found, ["أ", "ب", "أ"]);
        }
        assert_eq!(hits[0].0, 2);
        assert!(t.text[..hits[1].0].ends_with("ب "));
        assert!(is_canonical(&t.text));
        assert!(!is_canonical("a\r\nb"));
        assert!(!is_canonical("\u{feff}a"));
        assert!(!is_canonical("e\u{301}"));
        assert!(is_canonical("\u{e9}"));
    }

    proptest::proptest! {
        #[test]
        fn the_fast_nfc_check_agrees_with_normalising(
            chars in proptest::collection::vec(proptest::sample::select(vec![
                'a', 'e', ' ', '\u{301}', '\u{308}', '\u{e9}', '\u{627}', '\u{644}', '\u{64e}',
                '\u{651}', '\u{653}', '\u{654}', '\u{622}', '\u{623}', '\u{6c1}', '\u{1100}',
                '\u{1161}', '\u{ac00}', '\u{2126}', '\u{f900}', '\u{1d15e}', '\u{1f600}',
            ]), 0..12)
        ) {
            let s: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(is_nfc(&s), s.nfc().collect::<String>() == s, "{:?}", s);
        }

        #[test]
        fn the_sparse_offset_index_agrees_with_a_dense_one(
            chars in proptest::collection::vec(proptest::sample::select(vec![
                'a', ' ', '\n', '\u{e9}', '\u{627}', '\u{64e}', '\u{ac00}', '\u{1f600}',
            ]), 0..300)
        ) {
            let s: String = chars.into_iter().collect();
            let t = SourceText::from_canonical(s.clone());
            let mut dense: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
            dense.push(s.len());
            proptest::prop_assert_eq!(t.chars, dense.len() - 1);
            for c in 0..dense.len() + 2 {
                proptest::prop_assert_eq!(t.byte_of(c), dense.get(c).copied());
            }
            for b in 0..s.len() + 2 {
                proptest::prop_assert_eq!(t.char_of(b), dense.binary_search(&b).ok());
            }
        }

        #[test]
        fn the_sparse_squeezed_text_agrees_with_a_dense_one(
            chars in proptest::collection::vec(proptest::sample::select(vec![
                'a', ' ', '\n', '\t', '\r', '\u{85}', '\u{a0}', '\u{a1}', '\u{c2}', '\u{1680}',
                '\u{2003}', '\u{2028}', '\u{202f}', '\u{3000}', '\u{3001}', '\u{e9}', '\u{627}',
                '\u{1f600}',
            ]), 0..200)
        ) {
            let s: String = chars.into_iter().collect();
            // The plain definition: one space per run, a map entry per byte.
            let (mut text, mut map, mut in_space) = (String::new(), Vec::new(), false);
            for (i, c) in s.char_indices() {
                if c.is_whitespace() {
                    if !in_space {
                        text.push(' ');
                        map.push(i);
                    }
                    in_space = true;
                } else {
                    text.push(c);
                    map.extend(i..i + c.len_utf8());
                    in_space = false;
                }
            }
            let sq = Squeezed::new(&s);
            proptest::prop_assert_eq!(&sq.text, &text);
            for (j, &i) in map.iter().enumerate() {
                proptest::prop_assert_eq!(sq.source(j), i, "byte {} of {:?}", j, text);
            }
        }
    }

    #[test]
    fn closest_passage_points_at_first_difference() {
        let t = SourceText::from_canonical("في شهر أيلول من العام".to_string());
        let c = t.closest("شهر أيار").unwrap();
        assert_eq!(c.matched, 6); // "شهر أي" matches, then ا ≠ ل
        assert!(c.passage.starts_with("شهر أيلول"));
    }
}
