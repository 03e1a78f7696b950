//! The `defections` command: parses arguments, calls the library, prints, maps exit codes
//! (0 valid, 1 invalid release or input, 2 usage, tool or I/O failure).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use defections::compat::{self, Snapshot};
use defections::compile::{self as pipeline, CheckStatus, CompileError};
use defections::records::{self, BuildError};
use defections::write::{self, Published};
use defections::{schema, stats, tables::Table, validate};

/// Compiler and validator of the Islamic State Defections Dataset.
///
/// Compile the dataset from seeds/ and data/codings/ into an immutable release, and validate
/// any release against schema v1.
#[derive(Parser)]
#[command(name = "defections", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  defections compile                      build data/releases/<data/VERSION>\n  defections validate data/releases/1.0.0 check a release\n  defections stats data/releases/1.0.0    counts and coverage\n\nExit codes: 0 valid, 1 invalid input or release, 2 usage, tool or I/O failure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Build data/releases/<version>/ from seeds/ and data/codings/.
    ///
    /// Reads data/VERSION, every seed and every coding file; checks every quote, reference,
    /// vocabulary value and date; reports every problem at once (exit 1, nothing written), or
    /// writes the release atomically. An identical existing release is left alone; a different
    /// one is never overwritten.
    #[command(
        after_help = "Examples:\n  defections compile\n  defections compile --root path/to/project --format json"
    )]
    Compile {
        /// Project root holding seeds/ and data/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Do not use or fill the cache of per-source results, nor the stamp of the last
        /// compile that finds an unchanged release up to date without building it
        /// (data/.cache/compile/).
        #[arg(long)]
        no_cache: bool,
        /// Do not write: rebuild into a temporary folder and compare with the committed release
        /// (exit 0 identical or encoding-only difference, 1 data differ or release missing).
        #[arg(long)]
        check: bool,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Check a release folder against schema v1 and, with --previous, against the release before it.
    ///
    /// Without --previous: manifest and SHA256SUMS against the files, no unlisted files, JSON
    /// Schema of every record, Parquet columns and types, Parquet = JSONL, unique sorted keys,
    /// references, every evidence span against the archived text, every record_sha256.
    /// With --previous: the rules of rules/compatibility.yaml (removed or retyped columns,
    /// ids gone without retraction, reused ids, changed sources, a version bump that fits).
    #[command(
        after_help = "Examples:\n  defections validate data/releases/1.0.0\n  defections validate data/releases/1.1.0 --previous data/releases/1.0.0\n  defections validate data/releases/1.0.0 --format json\n\nExit codes: 0 valid, 1 invalid (every finding listed), 2 usage or I/O failure."
    )]
    Validate {
        /// The release folder.
        release: PathBuf,
        /// The release before it, for the release-to-release rules.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Record-level changelog from OLD to NEW: added, removed, retracted, changed (field, old, new).
    #[command(
        after_help = "Examples:\n  defections diff data/releases/1.0.0 data/releases/1.0.1\n  defections diff data/releases/1.0.0 data/releases/1.0.1 --format json"
    )]
    Diff {
        /// The older release.
        old: PathBuf,
        /// The newer release.
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print counts per table and per source and the filled share of every column.
    #[command(after_help = "Example:\n  defections stats data/releases/1.0.0")]
    Stats {
        /// The release folder.
        release: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Generate a synthetic corpus (a project folder with seeds/ and data/) for tests and benchmarks.
    ///
    /// The texts are built from the real seeds' sentences, shuffled and varied; the codings
    /// exercise every table with about 10 records and 20 quotes per source. Deterministic for a
    /// seed. `defections compile --root DIR` then builds its release.
    #[command(
        after_help = "Example:\n  defections synth --sources 10000 --out /tmp/corpus && defections compile --root /tmp/corpus"
    )]
    Synth {
        /// Number of sources.
        #[arg(long)]
        sources: usize,
        /// Output folder (must be empty or absent).
        #[arg(long)]
        out: PathBuf,
        /// Folder of real seeds to take sentences from.
        #[arg(long, default_value = "seeds")]
        from: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the man pages and shell completions (bash, zsh, fish) into a folder.
    #[command(
        after_help = "Example:\n  defections manual --out docs/cli    (the committed copy; a test keeps it current)"
    )]
    Manual {
        /// Output folder: man/ and completions/ are created inside.
        #[arg(long, default_value = "docs/cli")]
        out: PathBuf,
    },
    /// Check (default) or rewrite the committed JSON Schemas in schema/v1/.
    #[command(after_help = "Examples:\n  defections schema --check\n  defections schema --write")]
    Schema {
        /// Rewrite schema/v1/*.schema.json from the record types.
        #[arg(long)]
        write: bool,
        /// Project root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

/// mimalloc instead of the system allocator: compiling allocates many small strings on two
/// threads, where glibc's malloc was the largest single cost in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A progress bar on stderr, drawn only when stderr is a terminal (indicatif's default).
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Bar {
        let pb =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        Bar(pb)
    }
}

impl defections::progress::Progress for Bar {
    fn start(&self, phase: &str, len: u64) {
        self.0.reset();
        self.0.set_length(len);
        self.0.set_message(phase.to_string());
        let style = if len > 0 {
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
        } else {
            indicatif::ProgressStyle::with_template("{msg:>10} {spinner} {elapsed}")
        };
        if let Ok(style) = style {
            self.0.set_style(style.progress_chars("=> "));
        }
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Turns transparent huge pages off for this process (as `MIMALLOC_ALLOW_THP=0` would), unless
/// `DEFECTIONS_ALLOW_THP` is set. The allocator frees and re-faults memory as batches come and
/// go; with huge pages each fault takes 2 MiB (and 2 MiB of the kernel's zeroing). Measured at
/// 100,000 sources (benches/RESULTS.md): `validate` peaks about 30 MiB lower (418 against
/// 447 MiB) at the same wall time; a clean compile is unchanged.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("DEFECTIONS_ALLOW_THP").is_none() {
        // Best effort: a kernel without the flag just keeps its default.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Compile {
            root,
            format,
            check: false,
            no_cache,
        } => compile(&root, format, no_cache),
        Command::Compile {
            root,
            format,
            check: true,
            ..
        } => check_cmd(&root, format),
        Command::Validate {
            release,
            previous,
            format,
        } => validate_cmd(&release, previous.as_deref(), format),
        Command::Diff { old, new, format } => diff_cmd(&old, &new, format),
        Command::Stats { release, format } => stats_cmd(&release, format),
        Command::Schema { write, root } => schema_cmd(&root, write),
        Command::Manual { out } => manual_cmd(&out),
        Command::Synth {
            sources,
            out,
            from,
            seed,
        } => {
            let opts = defections::synth::SynthOptions { sources, seed };
            let s = defections::synth::synth(&from, &out, &opts)
                .with_context(|| format!("cannot generate a corpus in {}", out.display()))?;
            println!(
                "wrote {} sources ({} bytes of text, {} defections, {} events, {} statements, {} quotes) to {}",
                s.sources, s.text_bytes, s.defections, s.events, s.statements, s.quotes, out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_diagnostics(root: &Path, diags: &[defections::diagnostics::Diagnostic], format: Format) {
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "ok": false, "diagnostics": diags }))
                .unwrap_or_default()
        );
        return;
    }
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for d in diags {
        let src = std::fs::read_to_string(root.join(&d.file)).ok();
        eprint!("{}", d.render(src.as_deref(), color));
    }
    eprintln!("{} problem(s) found; nothing was written", diags.len());
}

fn compile(root: &Path, format: Format, no_cache: bool) -> anyhow::Result<ExitCode> {
    let cache = (!no_cache).then(|| defections::cache::Cache::for_project(root));
    let outcome = pipeline::compile_with(root, &Bar::new(), cache.as_ref());
    let (built, status, path) = match outcome {
        Ok(c) => match c.published.clone() {
            Published::Written(p) => (c, "written", p),
            Published::UpToDate(p) => (c, "up-to-date", p),
        },
        Err(CompileError::Build(BuildError::Invalid(diags))) => {
            print_diagnostics(root, &diags, format);
            return Ok(ExitCode::from(1));
        }
        Err(CompileError::Write(e @ write::WriteError::Exists { .. })) => {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": false, "error": e.to_string() })
                );
            } else {
                eprintln!("error: {e}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).context("compile failed"),
    };
    let counts: std::collections::BTreeMap<&str, u64> = built
        .manifest
        .tables
        .iter()
        .map(|(t, e)| (t.as_str(), e.rows))
        .collect();
    let shown = records::rel(root, &path);
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "ok": true, "status": status, "release": shown, "version": built.version, "rows": counts, "cache": cache.as_ref().map(|c| c.stats()), "stamped": built.stamped })
            )?
        );
    } else {
        let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {t}")).collect();
        match status {
            "written" => println!(
                "wrote release {} to {shown}: {}",
                built.version,
                summary.join(", ")
            ),
            _ if built.stamped => println!(
                "release {} at {shown} is up to date (its inputs give the release stamped when it was compiled)",
                built.version
            ),
            _ => println!("release {} at {shown} is up to date", built.version),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn validate_cmd(
    release: &Path,
    previous: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let report = validate::validate_with(release, &Bar::new())
        .with_context(|| format!("cannot validate {}", release.display()))?;
    let changes = match previous {
        Some(p) => {
            let old = Snapshot::from_release(p)
                .with_context(|| format!("cannot read the previous release {}", p.display()))?;
            let new = Snapshot::from_release(release).unwrap_or_default();
            match compat::compare(&old, &new) {
                Ok(changes) => changes,
                // An invalid release is not compared: its findings say why.
                Err(_) if !report.is_valid() => Vec::new(),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot compare with the previous release {}", p.display())
                    })
                }
            }
        }
        None => Vec::new(),
    };
    let valid = report.is_valid() && !compat::has_errors(&changes);
    if format == Format::Json {
        let out = serde_json::json!({ "valid": valid, "report": report, "changes": changes });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for f in &report.findings {
            println!("{}", f.render());
        }
        for c in &changes {
            println!("{}", c.render());
        }
        if valid {
            let rows: Vec<String> = report
                .rows
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect();
            println!(
                "{}: valid release {} ({})",
                release.display(),
                report.release_version.as_deref().unwrap_or("?"),
                rows.join(", ")
            );
        } else {
            let errors = report.findings.len()
                + changes
                    .iter()
                    .filter(|c| c.bump == compat::Bump::Error)
                    .count();
            println!("{}: INVALID, {errors} finding(s)", release.display());
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn diff_cmd(old: &Path, new: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let o =
        Snapshot::from_release(old).with_context(|| format!("cannot read {}", old.display()))?;
    let n =
        Snapshot::from_release(new).with_context(|| format!("cannot read {}", new.display()))?;
    let changes = compat::compare(&o, &n).context("cannot compare the releases")?;
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "changes": changes }))?
        );
    } else {
        print!("{}", compat::changelog(&o, &n, &changes));
    }
    Ok(ExitCode::SUCCESS)
}

fn check_cmd(root: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let report = match pipeline::check(root) {
        Ok(r) => r,
        Err(CompileError::Build(BuildError::Invalid(diags))) => {
            print_diagnostics(root, &diags, format);
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).context("the reproducibility check failed"),
    };
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let v = &report.version;
        match report.status {
            CheckStatus::Identical => println!("release {v} reproduces byte for byte"),
            CheckStatus::EncodingOnly => {
                println!("warning: release {v} holds the same records, but these files differ in bytes (an encoder change, not a data change):");
                for f in &report.differing_files {
                    println!("  {f}");
                }
            }
            CheckStatus::DataChanged => {
                println!("release {v} does NOT reproduce: the inputs give different data");
                for (t, ids) in &report.differing_records {
                    println!("  {t}: {}", ids.join(", "));
                }
                for f in &report.differing_files {
                    println!("  file {f}");
                }
            }
            CheckStatus::Missing => {
                println!("release {v} has not been compiled yet: run `defections compile`")
            }
        }
    }
    Ok(match report.status {
        CheckStatus::Identical | CheckStatus::EncodingOnly => ExitCode::SUCCESS,
        CheckStatus::DataChanged | CheckStatus::Missing => ExitCode::from(1),
    })
}

fn stats_cmd(release: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let report = validate::validate(release)
        .with_context(|| format!("cannot read {}", release.display()))?;
    let tables =
        validate::load(release).with_context(|| format!("cannot read {}", release.display()))?;
    let s = stats::stats(&tables);
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "valid": report.is_valid(), "stats": s })
            )?
        );
    } else {
        print!("{}", stats::render_markdown(&s, usize::MAX));
        if !report.is_valid() {
            eprintln!(
                "warning: the release is invalid ({} findings); run `defections validate`",
                report.findings.len()
            );
        }
    }
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn schema_cmd(root: &Path, write: bool) -> anyhow::Result<ExitCode> {
    let dir = root.join("schema/v1");
    let mut stale = Vec::new();
    for t in Table::ALL {
        let text = schema::render(&schema::generate(t));
        let path = dir.join(format!("{}.schema.json", t.name()));
        if write {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    if write {
        println!("wrote {} schemas to {}", Table::ALL.len(), dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    if stale.is_empty() {
        println!("schema/v1 matches the record types");
        Ok(ExitCode::SUCCESS)
    } else {
        for s in &stale {
            eprintln!("stale: {s}");
        }
        eprintln!("the committed schemas differ from the record types: run `defections schema --write`, then rebuild");
        Ok(ExitCode::from(1))
    }
}

fn manual_cmd(out: &Path) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).context("cannot write the man pages")?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "defections", &completions)
            .with_context(|| format!("cannot write the {shell} completions"))?;
    }
    println!(
        "wrote man pages to {} and completions to {}",
        man.display(),
        completions.display()
    );
    Ok(ExitCode::SUCCESS)
}
