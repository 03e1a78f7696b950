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

    /// Renders the diagnostic as text. With `source` (the text of `file`), the offending
    /// line is shown with a caret under the column.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!("error[{}]: {}\n", self.code, self.message);
        let loc = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            (Some(l), None) => format!("{}:{l}", self.file),
            _ => self.file.clone(),
        };
        out.push_str(&format!("  --> {loc}\n"));
        if let Some(p) = &self.pointer {
            out.push_str(&format!("   = at {p}\n"));
        }
        if let (Some(src), Some(line)) = (source, self.line) {
            if let Some(text) = src.lines().nth(line as usize - 1) {
                let width = line.to_string().len();
                out.push_str(&format!("{:width$} |\n{line} | {text}\n", ""));
                let col = self.column.unwrap_or(1) as usize;
                out.push_str(&format!("{:width$} | {}^\n", "", " ".repeat(col - 1)));
            }
        }
        if let Some(h) = &self.hint {
            for (i, l) in h.lines().enumerate() {
                let lead = if i == 0 { "   = help: " } else { "           " };
                out.push_str(lead);
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
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
