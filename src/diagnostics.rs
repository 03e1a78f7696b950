//! Diagnostics: what is wrong with the inputs, where, and what to do about it.
//!
//! In: problems found by the stages. Out: [`Diagnostic`] values carrying file, line, column,
//! JSON pointer, a stable code and a hint, rendered as text (with the offending line and a
//! caret when the file is at hand) or as JSON. The library never prints; the binary does.

use serde::Serialize;

/// One problem in the inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `quote-not-found`.
    pub code: &'static str,
    /// Project-relative path of the file at fault (forward slashes).
    pub file: String,
    /// 1-based line in `file`, when known.
    pub line: Option<u32>,
    /// 1-based column in `file`, when known.
    pub column: Option<u32>,
    /// JSON pointer of the offending value in the coding file, when known.
    pub pointer: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without position.
    pub fn new(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            file: file.into(),
            line: None,
            column: None,
            pointer: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets line and column.
    pub fn at(mut self, line: u32, column: u32) -> Self {
        if line > 0 {
            self.line = Some(line);
            self.column = Some(column.max(1));
        }
        self
    }

    /// Sets the JSON pointer.
    pub fn pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Renders the diagnostic as text (codespan-reporting). With `source` (the text of
    /// `file`), the offending line is shown with the value underlined; with `color`, ANSI
    /// colours are used (the binary asks for them only on a terminal).
    pub fn render(&self, source: Option<&str>, color: bool) -> String {
        use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
        use codespan_reporting::files::SimpleFile;
        use codespan_reporting::term;

        let mut report = Report::error()
            .with_code(self.code)
            .with_message(&self.message);
        let file = SimpleFile::new(self.file.as_str(), source.unwrap_or(""));
        let span = match (source, self.line, self.column) {
            (Some(src), Some(line), Some(col)) => span_at(src, line as usize, col as usize),
            _ => None,
        };
        let mut notes = Vec::new();
        match span {
            Some(range) => {
                let label = Label::primary((), range);
                report = report.with_labels(vec![match &self.pointer {
                    Some(p) => label.with_message(format!("at {p}")),
                    None => label,
                }]);
            }
            None => {
                let loc = match (self.line, self.column) {
                    (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
                    (Some(l), None) => format!("{}:{l}", self.file),
                    _ => self.file.clone(),
                };
                notes.push(format!("in {loc}"));
                if let Some(p) = &self.pointer {
                    notes.push(format!("at {p}"));
                }
            }
        }
        if let Some(h) = &self.hint {
            notes.push(format!("help: {h}"));
        }
        report = report.with_notes(notes);
        let config = term::Config::default();
        let mut out = Vec::new();
        let ok = if color {
            let mut w = term::termcolor::Ansi::new(&mut out);
            term::emit_to_write_style(&mut w, &config, &file, &report).is_ok()
        } else {
            term::emit_to_io_write(&mut out, &config, &file, &report).is_ok()
        };
        if ok {
            String::from_utf8_lossy(&out).into_owned()
        } else {
            format!("error[{}]: {} ({})\n", self.code, self.message, self.file)
        }
    }
}

/// The byte range of the value starting at 1-based `line` and `col` (in characters): up to
/// the end of the token (a space, comma, bracket or the end of the line), at least one
/// character.
fn span_at(src: &str, line: usize, col: usize) -> Option<std::ops::Range<usize>> {
    let line_start: usize = src
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let text = src[line_start..].split('\n').next()?;
    let start = line_start
        + text
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map_or(text.len(), |(i, _)| i);
    let rest = &src[start..line_start + text.len()];
    let end = start
        + rest
            .char_indices()
            .find(|(i, c)| *i > 0 && matches!(c, ',' | ']' | '}' | '#'))
            .map_or(rest.trim_end().len(), |(i, _)| i);
    let end = if end <= start {
        start + src[start..].chars().next().map_or(0, char::len_utf8)
    } else {
        end
    };
    Some(start..end.max(start))
}

/// Sorts diagnostics by file, line, column, code and message, so that output is stable
/// whatever order parallel work found them in.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.code, &b.message))
    });
}

/// The closest candidate to `wanted` among `candidates`, if close enough to suggest.
pub fn did_you_mean<'a>(
    wanted: &'a str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Ids share their table prefix; compare what follows it.
    let tail = |s: &'a str| s.split_once('-').map_or(s, |(_, t)| t);
    let w = wanted.split_once('-').map_or(wanted, |(_, t)| t);
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(w, tail(c)), c))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}
