//! Synthetic corpus: real seed sentences in, a complete synthetic project out.
//!
//! In: a folder of real seed texts (`*.txt`, read once and split into Arabic-bearing
//! sentences), a number of sources and a PRNG seed. Out: a project laid out like the real one,
//! written into `out/`:
//!
//! ```text
//! out/seeds/<NNNNNN>_<16 hex>.txt            one text per source (about 5–11 KB)
//! out/data/VERSION                            1.0.0
//! out/data/codings/gazetteer/*.yaml           a shared gazetteer (persons, places, actors)
//! out/data/codings/sources/<same stem>.yaml   the codings of each source
//! ```
//!
//! `defections compile --root out` builds a valid release from it and `defections validate`
//! passes that release. Each text starts with a title and a byline and is made of real
//! sentences (15 to 40 drawn without replacement, topped up to a size drawn between 5 and
//! 11 KB; one of them repeated now and then), interleaved with sentences that report the coded
//! facts (gazetteer names, numbers, dates), separated by spaces, NBSPs or line breaks. Each
//! source codes 2–6 defections, 1–3 events, 1–3 statements and mentions of the gazetteer
//! (about ten records and 24 evidence quotes); the gazetteer holds 40 to 300 entries, and
//! source `i` mentions entries `i·k … i·k+k−1` (mod their number), so every entry is quoted.
//! Quotes are spans of the generated text (some with a space turned into a line break), and
//! occurrences are counted with the compiler's own quote finder, so every quote resolves
//! exactly once. YAML strings are single-quoted; a line break in a quote is written as an
//! empty line, which YAML folds back into one line break.
//!
//! Same `(sources, seed)` → byte-identical output: each source has its own splitmix64 stream
//! derived from `(seed, index)`, so sources are generated and written in parallel (rayon),
//! one at a time per thread; memory does not grow with the number of sources.

use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::sources::SourceText;
use crate::tables::sha256_hex;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Number of sources (seed texts with their coding files).
    pub sources: usize,
    /// PRNG seed: the same seed and number of sources give the same bytes.
    pub seed: u64,
}

/// What was generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthSummary {
    /// Sources written.
    pub sources: usize,
    /// Defection cases coded.
    pub defections: usize,
    /// Events coded.
    pub events: usize,
    /// Statements coded.
    pub statements: usize,
    /// Quotes written (evidence quotes and statements' `quote_ar`).
    pub quotes: usize,
    /// Bytes of source text written.
    pub text_bytes: u64,
}

impl std::ops::Add for SynthSummary {
    type Output = SynthSummary;
    fn add(self, o: SynthSummary) -> SynthSummary {
        SynthSummary {
            sources: self.sources + o.sources,
            defections: self.defections + o.defections,
            events: self.events + o.events,
            statements: self.statements + o.statements,
            quotes: self.quotes + o.quotes,
            text_bytes: self.text_bytes + o.text_bytes,
        }
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a synthetic project of `opts.sources` sources into `out` (which must be absent or
/// hold no `seeds/` or `data/` with files in them), building its texts from the sentences of
/// the real seeds in `real_seeds`.
pub fn synth(
    real_seeds: &Path,
    out: &Path,
    opts: &SynthOptions,
) -> Result<SynthSummary, SynthError> {
    let sentences = read_sentences(real_seeds)?;
    for sub in ["seeds", "data"] {
        let p = out.join(sub);
        if let Ok(mut entries) = std::fs::read_dir(&p) {
            if entries.next().is_some() {
                return Err(SynthError::Io {
                    path: p,
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "not empty: synthesize into a new folder",
                    ),
                });
            }
        }
    }
    let seeds_dir = out.join("seeds");
    let sources_dir = out.join("data/codings/sources");
    let gaz_dir = out.join("data/codings/gazetteer");
    for d in [&seeds_dir, &sources_dir, &gaz_dir] {
        std::fs::create_dir_all(d).map_err(io_err(d))?;
    }
    write_file(&out.join("data/VERSION"), b"1.0.0\n")?;

    // No sources, no gazetteer: every gazetteer record must be quoted by some source.
    let gaz = Gazetteer::new(opts.sources, opts.seed);
    if opts.sources > 0 {
        for (name, yaml) in gaz.files() {
            write_file(&gaz_dir.join(name), yaml.as_bytes())?;
        }
    }

    let ctx = Ctx {
        sentences: &sentences,
        gaz: &gaz,
        seed: opts.seed,
        n: opts.sources,
    };
    (0..opts.sources)
        .into_par_iter()
        .map(|i| {
            let g = generate(&ctx, i);
            let stem = format!("{i:06}_{}", &sha256_hex(g.text.as_bytes())[..16]);
            write_file(&seeds_dir.join(format!("{stem}.txt")), g.text.as_bytes())?;
            let (yaml, quotes) = g.yaml(&format!("{stem}.txt"));
            write_file(&sources_dir.join(format!("{stem}.yaml")), yaml.as_bytes())?;
            Ok(SynthSummary {
                quotes,
                ..g.summary
            })
        })
        .try_reduce(SynthSummary::default, |a, b| Ok(a + b))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::new(f);
    w.write_all(bytes).map_err(io_err(path))?;
    w.flush().map_err(io_err(path))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PRNG

/// splitmix64 (Steele, Lea & Flood 2014).
#[derive(Clone, Debug)]
struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// An independent stream for `(seed, stream)`.
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(mix(seed.wrapping_add(GOLDEN)) ^ mix(stream.wrapping_mul(GOLDEN).wrapping_add(1)))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
    /// True with probability `pct`/100.
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real sentences

fn is_arabic(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// Every `*.txt` of `dir` (by name), split on `.`, `،` and line breaks; the Arabic-bearing
/// sentences of three words or more, white space squeezed, NFC, without control characters,
/// each once, in order of first appearance.
fn read_sentences(dir: &Path) -> Result<Vec<String>, SynthError> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        if p.extension().and_then(|x| x.to_str()) == Some("txt") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in &files {
        let raw = std::fs::read(f).map_err(io_err(f))?;
        let text = String::from_utf8_lossy(&raw);
        for s in text.split(['.', '،', '\n']) {
            let cleaned: String = s
                .chars()
                .filter(|c| !c.is_control() || c.is_whitespace())
                .filter(|c| !matches!(c, '\u{FEFF}' | '\u{FFFD}' | '\u{FFFE}' | '\u{FFFF}'))
                .collect();
            let words: Vec<&str> = cleaned.split_whitespace().collect();
            if words.len() < 3 || !cleaned.chars().any(is_arabic) {
                continue;
            }
            let s: String = words.join(" ").nfc().collect();
            let starts_ok = s
                .chars()
                .next()
                .is_some_and(|c| unicode_normalization::char::canonical_combining_class(c) == 0);
            if starts_ok && seen.insert(s.clone()) {
                out.push(s);
            }
        }
    }
    if out.is_empty() {
        return Err(SynthError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no Arabic sentences in the *.txt files of this folder",
            ),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The gazetteer

struct Person {
    id: String,
    name_ar: String,
    name_en: String,
    kind: &'static str,
    aliases: Vec<String>,
    nats: Vec<&'static str>,
    category: &'static str,
    affiliation: Option<String>,
    notes: Option<String>,
}

struct Place {
    id: String,
    name_ar: String,
    aliases: Vec<String>,
    name_en: String,
    feature: &'static str,
    country: &'static str,
    parent: Option<String>,
    coords: Option<(f64, f64)>,
    geonames: Option<i64>,
    coord_precision: &'static str,
}

struct Actor {
    id: String,
    name_ar: String,
    name_en: String,
    kind: &'static str,
    country: Option<&'static str>,
}

struct Gazetteer {
    persons: Vec<Person>,
    places: Vec<Place>,
    actors: Vec<Actor>,
    /// Indices of persons by category.
    defectors: Vec<usize>,
    informants: Vec<usize>,
    /// Indices of places that are towns or cities (where things happen).
    settlements: Vec<usize>,
    /// Indices of places that are countries (where defectors go).
    countries: Vec<usize>,
}

/// (Arabic, English, ISO code, feature, latitude, longitude, geonames id)
type PlaceRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    Option<i64>,
);

const COUNTRIES: &[PlaceRow] = &[
    ("سوريا", "Syria", "SY", "country", 35.0, 38.0, Some(163_843)),
    ("العراق", "Iraq", "IQ", "country", 33.0, 44.0, Some(99_237)),
    (
        "تركيا",
        "Turkey",
        "TR",
        "country",
        39.0,
        35.0,
        Some(298_795),
    ),
    ("الأردن", "Jordan", "JO", "country", 31.0, 36.0, None),
    ("لبنان", "Lebanon", "LB", "country", 33.83, 35.83, None),
    (
        "ألمانيا",
        "Germany",
        "DE",
        "country",
        51.5,
        10.5,
        Some(2_921_044),
    ),
];

const CITIES: &[PlaceRow] = &[
    (
        "دير الزور",
        "Deir ez-Zor",
        "SY",
        "city",
        35.3359,
        40.1408,
        Some(170_794),
    ),
    ("الرقة", "Raqqa", "SY", "city", 35.9528, 39.0079, None),
    ("الحسكة", "Hasakah", "SY", "city", 36.5024, 40.7477, None),
    ("حلب", "Aleppo", "SY", "city", 36.2021, 37.1343, None),
    ("إدلب", "Idlib", "SY", "city", 35.9306, 36.6339, None),
    ("حمص", "Homs", "SY", "city", 34.7324, 36.7137, None),
    ("تدمر", "Palmyra", "SY", "town", 34.5601, 38.2805, None),
    (
        "البوكمال",
        "Albu Kamal",
        "SY",
        "town",
        34.4536,
        40.9367,
        None,
    ),
    ("الميادين", "Mayadin", "SY", "town", 35.0192, 40.4516, None),
    ("الموصل", "Mosul", "IQ", "city", 36.335, 43.1189, None),
    ("الرمادي", "Ramadi", "IQ", "city", 33.4206, 43.3078, None),
    ("الفلوجة", "Fallujah", "IQ", "city", 33.3536, 43.7797, None),
    ("تكريت", "Tikrit", "IQ", "city", 34.6071, 43.6782, None),
    ("الباب", "al-Bab", "SY", "town", 36.3705, 37.5157, None),
    ("منبج", "Manbij", "SY", "town", 36.5281, 37.9549, None),
    ("جرابلس", "Jarablus", "SY", "town", 36.8175, 38.0114, None),
    ("أعزاز", "Azaz", "SY", "town", 36.5866, 37.0463, None),
    ("تل أبيض", "Tal Abyad", "SY", "town", 36.6974, 38.9567, None),
    ("الشدادي", "Shaddadi", "SY", "town", 36.0500, 40.7300, None),
    ("الطبقة", "Tabqa", "SY", "town", 35.8368, 38.5481, None),
    ("مارع", "Marea", "SY", "town", 36.5800, 37.2000, None),
    ("القائم", "al-Qaim", "IQ", "town", 34.3686, 41.0945, None),
    ("عنه", "Anah", "IQ", "town", 34.3725, 41.9864, None),
    ("هجين", "Hajin", "SY", "town", 34.6961, 40.8303, None),
    ("الشحيل", "Shuhayl", "SY", "village", 35.1339, 40.3667, None),
    ("العشارة", "Ashara", "SY", "town", 34.9192, 40.5639, None),
    ("السخنة", "Sukhnah", "SY", "town", 34.8856, 38.8722, None),
    ("أورفا", "Urfa", "TR", "city", 37.1591, 38.7969, None),
    (
        "غازي عنتاب",
        "Gaziantep",
        "TR",
        "city",
        37.0662,
        37.3833,
        None,
    ),
    ("كلس", "Kilis", "TR", "town", 36.7184, 37.1212, None),
    ("أنطاكية", "Antakya", "TR", "city", 36.2021, 36.1603, None),
    ("القامشلي", "Qamishli", "SY", "city", 37.0522, 41.2317, None),
    ("سنجار", "Sinjar", "IQ", "town", 36.3209, 41.8764, None),
    ("تلعفر", "Tal Afar", "IQ", "town", 36.3744, 42.4486, None),
    ("بيجي", "Baiji", "IQ", "town", 34.9311, 43.4872, None),
    ("الحويجة", "Hawija", "IQ", "town", 35.3211, 43.7858, None),
    ("كركوك", "Kirkuk", "IQ", "city", 35.4681, 44.3922, None),
    ("أربيل", "Erbil", "IQ", "city", 36.1901, 44.0091, None),
    ("دمشق", "Damascus", "SY", "city", 33.5138, 36.2765, None),
    ("بغداد", "Baghdad", "IQ", "city", 33.3152, 44.3661, None),
];

/// (Arabic, English, kind, country)
const ACTORS: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "تنظيم الدولة الإسلامية",
        "Islamic State (ISIS)",
        "jihadist_group",
        None,
    ),
    (
        "الجيش السوري الحر",
        "Free Syrian Army",
        "rebel_group",
        Some("SY"),
    ),
    ("جبهة النصرة", "Jabhat al-Nusra", "jihadist_group", None),
    (
        "قوات سوريا الديمقراطية",
        "Syrian Democratic Forces",
        "rebel_group",
        Some("SY"),
    ),
    (
        "قوات النظام",
        "Syrian regime forces",
        "state_forces",
        Some("SY"),
    ),
    ("الجيش العراقي", "Iraqi Army", "state_forces", Some("IQ")),
    (
        "الجندرما التركية",
        "Turkish Gendarmerie",
        "state_forces",
        Some("TR"),
    ),
    (
        "التحالف الدولي",
        "International Coalition",
        "international_coalition",
        None,
    ),
    ("صوت وصورة", "Sawt wa Sura", "monitoring_group", Some("SY")),
    (
        "الرقة تذبح بصمت",
        "Raqqa is Being Slaughtered Silently",
        "monitoring_group",
        Some("SY"),
    ),
    (
        "المرصد السوري لحقوق الإنسان",
        "Syrian Observatory for Human Rights",
        "monitoring_group",
        Some("GB"),
    ),
    ("عنب بلدي", "Enab Baladi", "media", Some("SY")),
    (
        "الحكومة التركية",
        "Turkish government",
        "government",
        Some("TR"),
    ),
    ("البيشمركة", "Peshmerga", "state_forces", Some("IQ")),
    (
        "حركة أحرار الشام",
        "Ahrar al-Sham",
        "rebel_group",
        Some("SY"),
    ),
    (
        "الحكومة العراقية",
        "Iraqi government",
        "government",
        Some("IQ"),
    ),
];

/// Given names: (Arabic, transliteration).
const GIVEN: &[(&str, &str)] = &[
    ("هاجر", "hajer"),
    ("عمر", "omar"),
    ("خالد", "khaled"),
    ("محمد", "mohammed"),
    ("أحمد", "ahmed"),
    ("علي", "ali"),
    ("حمزة", "hamza"),
    ("مصعب", "musab"),
    ("أسامة", "osama"),
    ("عبيدة", "ubaida"),
    ("طلحة", "talha"),
    ("يوسف", "yusuf"),
    ("إبراهيم", "ibrahim"),
    ("عبد الله", "abdullah"),
    ("عبد الرحمن", "abdulrahman"),
    ("سليمان", "suleiman"),
    ("قتادة", "qatada"),
    ("جعفر", "jafar"),
    ("حذيفة", "hudhaifa"),
    ("معاذ", "muadh"),
    ("بكر", "bakr"),
    ("ياسر", "yasser"),
    ("فارس", "fares"),
    ("ماهر", "maher"),
    ("سعد", "saad"),
    ("زيد", "zaid"),
    ("وليد", "walid"),
    ("مالك", "malik"),
    ("عمار", "ammar"),
    ("حسن", "hassan"),
    ("حسين", "hussein"),
    ("صهيب", "suhaib"),
];

/// Nisbas: (Arabic, transliteration, nationality).
const NISBA: &[(&str, &str, &str)] = &[
    ("الكويتي", "al-kuwaiti", "KW"),
    ("السعودي", "al-saudi", "SA"),
    ("التونسي", "al-tunisi", "TN"),
    ("المغربي", "al-maghribi", "MA"),
    ("المصري", "al-masri", "EG"),
    ("الأردني", "al-urduni", "JO"),
    ("الليبي", "al-libi", "LY"),
    ("العراقي", "al-iraqi", "IQ"),
    ("الشامي", "al-shami", "SY"),
    ("الديري", "al-dairi", "SY"),
    ("الرقاوي", "al-raqqawi", "SY"),
    ("الحلبي", "al-halabi", "SY"),
    ("الشيشاني", "al-shishani", "RU"),
    ("الألماني", "al-almani", "DE"),
    ("الفرنسي", "al-faransi", "FR"),
    ("البلجيكي", "al-beljiki", "BE"),
    ("التركي", "al-turki", "TR"),
    ("الأوزبكي", "al-uzbeki", "UZ"),
    ("الجزائري", "al-jazairi", "DZ"),
    ("اليمني", "al-yamani", "YE"),
    ("البريطاني", "al-britani", "GB"),
];

/// Family names: (Arabic, transliteration).
const FAMILY: &[(&str, &str)] = &[
    ("العلي", "al-ali"),
    ("الحسين", "al-hussein"),
    ("الخلف", "al-khalaf"),
    ("الجاسم", "al-jasim"),
    ("الحمد", "al-hamad"),
    ("العبيد", "al-obaid"),
    ("الصالح", "al-saleh"),
    ("الحمود", "al-hamoud"),
    ("الأحمد", "al-ahmad"),
    ("الراشد", "al-rashed"),
];

/// Regional epithets of informants: (Arabic, transliteration).
const EPITHET: &[(&str, &str)] = &[
    ("الفراتي", "al-furati"),
    ("الشرقي", "al-sharqi"),
    ("الجزراوي", "al-jazrawi"),
    ("البادية", "al-badiya"),
    ("الخابوري", "al-khabouri"),
];

/// Arabic letters for initials: (Arabic, transliteration).
const LETTERS: &[(&str, &str)] = &[
    ("م", "m"),
    ("ع", "a"),
    ("د", "d"),
    ("خ", "kh"),
    ("س", "s"),
    ("ر", "r"),
    ("ح", "h"),
    ("ف", "f"),
];

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// `abu hajer al-kuwaiti` → `Abu Hajer al-Kuwaiti`.
fn title_case(s: &str) -> String {
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
    };
    s.split(' ')
        .map(|w| match w.strip_prefix("al-") {
            Some(rest) => format!("al-{}", cap(rest)),
            None => cap(w),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Gazetteer {
    /// A gazetteer sized for `n` sources: 40 to 300 entries, each mentioned by some source.
    fn new(n: usize, seed: u64) -> Gazetteer {
        let total = (2 * n).clamp(40, 300);
        let n_actors = (total / 10).max(8);
        let n_places = (total * 3 / 10).max(12);
        let n_persons = total - n_actors - n_places;
        let mut rng = Rng::new(seed, u64::MAX);

        // Actors: the fixed list, then battalions named after cities.
        let mut actors: Vec<Actor> = ACTORS
            .iter()
            .map(|(ar, en, kind, country)| Actor {
                id: format!("act-{}", slug(en.split(" (").next().unwrap_or(en))),
                name_ar: (*ar).to_string(),
                name_en: (*en).to_string(),
                kind,
                country: *country,
            })
            .collect();
        actors[0].id = "act-isis".into();
        let mut k = 0;
        while actors.len() < n_actors {
            let (ar, en, country, ..) = CITIES[k % CITIES.len()];
            let (prefix_ar, prefix_en) = if k < CITIES.len() {
                ("كتيبة شهداء", "Martyrs of")
            } else {
                ("لواء أحرار", "Free Men of")
            };
            actors.push(Actor {
                id: format!("act-{}", slug(&format!("{prefix_en} {en} brigade"))),
                name_ar: format!("{prefix_ar} {ar}"),
                name_en: format!("{prefix_en} {en} Brigade"),
                kind: "rebel_group",
                country: Some(country),
            });
            k += 1;
        }
        actors.truncate(n_actors);

        // Places: countries, cities and towns, then facilities in them.
        let mut places: Vec<Place> = Vec::new();
        for (ar, en, code, feature, lat, lon, gn) in COUNTRIES.iter().copied() {
            places.push(Place {
                id: format!("plc-{}", slug(en)),
                name_ar: ar.into(),
                aliases: Vec::new(),
                name_en: en.into(),
                feature,
                country: code,
                parent: None,
                coords: Some((lat, lon)),
                geonames: gn,
                coord_precision: "country",
            });
        }
        let country_id = |code: &str| {
            COUNTRIES
                .iter()
                .find(|c| c.2 == code)
                .map(|c| format!("plc-{}", slug(c.1)))
        };
        for (ar, en, code, feature, lat, lon, gn) in CITIES.iter().copied() {
            let aliases = if ar.contains(' ') && rng.chance(50) {
                vec![ar.replacen(' ', "", 1)]
            } else {
                Vec::new()
            };
            let coords = rng.chance(85).then_some((lat, lon));
            places.push(Place {
                id: format!("plc-{}", slug(en)),
                name_ar: ar.into(),
                aliases,
                name_en: en.into(),
                feature,
                country: code,
                parent: country_id(code),
                coords,
                geonames: gn,
                coord_precision: if coords.is_some() {
                    "settlement"
                } else {
                    "none"
                },
            });
        }
        let mut k = 0;
        while places.len() < n_places {
            let city = k % CITIES.len();
            let (ar, en, code, _, lat, lon, _) = CITIES[city];
            let (kind_ar, kind_en) = [("سجن", "prison"), ("حاجز", "checkpoint"), ("معسكر", "camp")]
                [k / CITIES.len() % 3];
            let exact = rng.chance(40);
            places.push(Place {
                id: format!("plc-{}", slug(&format!("{en} {kind_en}"))),
                name_ar: format!("{kind_ar} {ar}"),
                aliases: Vec::new(),
                name_en: format!("{en} {kind_en}"),
                feature: "facility",
                country: code,
                parent: Some(format!("plc-{}", slug(en))),
                coords: exact.then_some((lat + 0.01, lon - 0.01)),
                geonames: None,
                coord_precision: if exact { "exact" } else { "none" },
            });
            k += 1;
        }
        places.truncate(n_places);
        // A few regions and districts among the settlements, for the vocabulary.
        for (j, p) in places.iter_mut().enumerate() {
            if p.feature == "city" && j % 9 == 0 {
                p.feature = "region";
                p.coord_precision = if p.coords.is_some() { "region" } else { "none" };
            } else if p.feature == "town" && j % 11 == 0 {
                p.feature = "district";
            }
        }

        // Persons: kunyas, full names, nicknames and initials; categories in turn.
        let actor_id = |name_en: &str| {
            actors
                .iter()
                .find(|a| a.name_en == name_en)
                .map(|a| a.id.clone())
        };
        let mut persons: Vec<Person> = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for j in 0..n_persons {
            let category = match j % 10 {
                0..=5 => "defector",
                6 | 7 => "informant",
                8 => "official",
                _ if j % 20 == 9 => "isis_leader",
                _ => "other",
            };
            let g = GIVEN[(j * 7 + j / GIVEN.len()) % GIVEN.len()];
            let nis = NISBA[(j / GIVEN.len() + j * 3) % NISBA.len()];
            let fam = FAMILY[(j / 3) % FAMILY.len()];
            let (kind, name_ar, name_en, aliases, nats) = match (category, j % 5) {
                ("informant", 0..=2) => {
                    let e = EPITHET[j % EPITHET.len()];
                    (
                        "nickname",
                        format!("{} {}", g.0, e.0),
                        format!("{} {}", g.1, e.1),
                        Vec::new(),
                        vec!["SY"],
                    )
                }
                ("informant", _) | ("other", _) => {
                    let a = LETTERS[j % LETTERS.len()];
                    let b = LETTERS[(j / LETTERS.len() + 3) % LETTERS.len()];
                    (
                        "initials",
                        format!("{} {}", a.0, b.0),
                        format!("{} {}", a.1, b.1).to_uppercase(),
                        Vec::new(),
                        Vec::new(),
                    )
                }
                ("official", _) | (_, 4) => (
                    "full_name",
                    format!("{} {}", g.0, fam.0),
                    format!("{} {}", g.1, fam.1),
                    Vec::new(),
                    vec!["SY"],
                ),
                _ => (
                    "kunya",
                    format!("أبو {} {}", g.0, nis.0),
                    format!("abu {} {}", g.1, nis.1),
                    vec![format!("{} أبو {}", nis.0, g.0)],
                    vec![nis.2],
                ),
            };
            let mut id = format!("per-{}", slug(&name_en));
            if !ids.insert(id.clone()) {
                id = format!("{id}-{j}");
                ids.insert(id.clone());
            }
            let name_en = title_case(&name_en);
            let affiliation = match category {
                "defector" | "isis_leader" => Some("act-isis".to_string()),
                "informant" => actor_id("Sawt wa Sura"),
                "official" => actor_id("Syrian Democratic Forces"),
                _ => None,
            };
            let notes = (j % 7 == 3).then(|| "Synthetic person.".to_string());
            persons.push(Person {
                id,
                name_ar,
                name_en,
                kind,
                aliases,
                nats,
                category,
                affiliation,
                notes,
            });
        }
        let defectors = (0..persons.len())
            .filter(|&j| persons[j].category == "defector")
            .collect();
        let informants = (0..persons.len())
            .filter(|&j| persons[j].category == "informant")
            .collect();
        let settlements = (0..places.len())
            .filter(|&j| places[j].feature != "country")
            .collect();
        let countries = (0..places.len())
            .filter(|&j| places[j].feature == "country")
            .collect();
        Gazetteer {
            persons,
            places,
            actors,
            defectors,
            informants,
            settlements,
            countries,
        }
    }

    fn len(&self) -> usize {
        self.persons.len() + self.places.len() + self.actors.len()
    }

    /// Id and Arabic name of entry `e` (persons, then places, then actors).
    fn entry(&self, e: usize) -> (&str, &str, Kind) {
        let (np, nl) = (self.persons.len(), self.places.len());
        if e < np {
            (&self.persons[e].id, &self.persons[e].name_ar, Kind::Person)
        } else if e < np + nl {
            let p = &self.places[e - np];
            (&p.id, &p.name_ar, Kind::Place)
        } else {
            let a = &self.actors[e - np - nl];
            (&a.id, &a.name_ar, Kind::Actor)
        }
    }

    /// The gazetteer files: `(file name, YAML)`.
    fn files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut y = String::from("# Synthetic gazetteer: actors.\nactors:\n");
        for a in &self.actors {
            let _ = writeln!(y, "  - id: {}", a.id);
            let _ = writeln!(y, "    name_ar: {}", sq(&a.name_ar));
            let _ = writeln!(y, "    name_en: {}", sq(&a.name_en));
            let _ = writeln!(y, "    kind: {}", a.kind);
            match a.country {
                Some(c) => {
                    let _ = writeln!(y, "    country: {c}");
                }
                None => y.push_str("    country: null\n"),
            }
        }
        out.push(("actors.yaml".to_string(), y));

        let mut y = String::from("# Synthetic gazetteer: places.\nplaces:\n");
        for p in &self.places {
            let _ = writeln!(y, "  - id: {}", p.id);
            let _ = writeln!(y, "    name_ar: {}", sq(&p.name_ar));
            if !p.aliases.is_empty() {
                let _ = writeln!(y, "    aliases_ar: {}", sq_list(&p.aliases));
            }
            let _ = writeln!(y, "    name_en: {}", sq(&p.name_en));
            let _ = writeln!(y, "    feature: {}", p.feature);
            let _ = writeln!(y, "    country: {}", p.country);
            if let Some(parent) = &p.parent {
                let _ = writeln!(y, "    parent_place_id: {parent}");
            }
            if let Some((lat, lon)) = p.coords {
                let _ = writeln!(y, "    latitude: {lat:.4}\n    longitude: {lon:.4}");
            }
            if let Some(g) = p.geonames {
                let _ = writeln!(y, "    geonames_id: {g}");
            }
            let _ = writeln!(y, "    coord_precision: {}", p.coord_precision);
        }
        out.push(("places.yaml".to_string(), y));

        let per_file = self.persons.len().div_ceil(3).max(1);
        for (f, chunk) in self.persons.chunks(per_file).enumerate() {
            let mut y = format!(
                "# Synthetic gazetteer: persons, part {}.\npersons:\n",
                f + 1
            );
            for p in chunk {
                let _ = writeln!(y, "  - id: {}", p.id);
                let _ = writeln!(y, "    name_ar: {}", sq(&p.name_ar));
                let _ = writeln!(y, "    name_en: {}", sq(&p.name_en));
                let _ = writeln!(y, "    name_kind: {}", p.kind);
                let _ = writeln!(y, "    aliases_ar: {}", sq_list(&p.aliases));
                let _ = writeln!(y, "    nationalities: [{}]", p.nats.join(", "));
                let _ = writeln!(y, "    category: {}", p.category);
                if let Some(a) = &p.affiliation {
                    let _ = writeln!(y, "    affiliation_actor_id: {a}");
                }
                if let Some(n) = &p.notes {
                    let _ = writeln!(y, "    notes_en: {}", sq(n));
                }
            }
            out.push((format!("persons-{}.yaml", f + 1), y));
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Person,
    Place,
    Actor,
}

// ---------------------------------------------------------------------------------------------
// YAML

/// A single-quoted YAML scalar; a line break is written as an empty line (YAML folding), the
/// continuation lines indented by `indent` spaces.
fn sq_at(s: &str, indent: usize) -> String {
    let body = s.replace('\'', "''");
    let pad = " ".repeat(indent);
    let body = body.replace('\n', &format!("\n\n{pad}"));
    format!("'{body}'")
}

fn sq(s: &str) -> String {
    sq_at(s, 8)
}

fn sq_list(xs: &[String]) -> String {
    let items: Vec<String> = xs.iter().map(|x| sq(x)).collect();
    format!("[{}]", items.join(", "))
}

// ---------------------------------------------------------------------------------------------
// One source

struct Ctx<'a> {
    sentences: &'a [String],
    gaz: &'a Gazetteer,
    seed: u64,
    n: usize,
}

/// An evidence quote: a span of the text and the columns it supports.
struct Ev {
    range: Range<usize>,
    fields: Vec<&'static str>,
}

/// A generated source: the text and the codings, as YAML lines.
struct Generated {
    text: String,
    /// The `source:` block after `file_name`, without evidence.
    source_meta: String,
    source_ev: Vec<Ev>,
    /// Records: (table key, YAML of the fields before `evidence`, evidence).
    defections: Vec<(String, Vec<Ev>)>,
    events: Vec<(String, Vec<Ev>)>,
    statements: Vec<Statement>,
    mentions: Vec<(String, Vec<Ev>)>,
    summary: SynthSummary,
    /// Whitespace variants of the quotes, by the PRNG.
    variants: Vec<u64>,
    source_id: String,
}

const MONTHS: &[&str] = &[
    "كانون الثاني",
    "شباط",
    "آذار",
    "نيسان",
    "أيار",
    "حزيران",
    "تموز",
    "آب",
    "أيلول",
    "تشرين الأول",
    "تشرين الثاني",
    "كانون الأول",
];

/// (Arabic, English, kind, slug)
const PUBLISHERS: &[(&str, &str, &str)] = &[
    (
        "صوت وصورة",
        "Sound and Picture (Sawt wa Sura)",
        "monitoring_group",
    ),
    ("عنب بلدي", "Enab Baladi", "news_outlet"),
    ("أورينت نت", "Orient Net", "news_outlet"),
    (
        "الرقة تذبح بصمت",
        "Raqqa is Being Slaughtered Silently",
        "monitoring_group",
    ),
    (
        "المرصد السوري لحقوق الإنسان",
        "Syrian Observatory for Human Rights",
        "monitoring_group",
    ),
    (
        "خلية الإعلام الأمني",
        "Security Media Cell (Iraq)",
        "coalition_or_government",
    ),
    ("مركز جسور للدراسات", "Jusoor for Studies", "research_org"),
    ("عربي 21", "Arabi21", "news_outlet"),
];

/// Builds the text piece by piece, remembering where things are.
struct Text {
    s: String,
}

impl Text {
    fn push(&mut self, piece: &str) -> Range<usize> {
        let a = self.s.len();
        self.s.push_str(piece);
        a..self.s.len()
    }
    /// A space between words: mostly a space, sometimes an NBSP.
    fn space(&mut self, rng: &mut Rng) {
        self.s.push(if rng.chance(8) { '\u{a0}' } else { ' ' });
    }
    /// The end of a sentence and the white space after it.
    fn end(&mut self, rng: &mut Rng) {
        self.s.push(if rng.chance(85) { '.' } else { '،' });
        let r = rng.below(100);
        self.s.push(if r < 55 {
            ' '
        } else if r < 70 {
            '\u{a0}'
        } else {
            '\n'
        });
    }
    fn len(&self) -> usize {
        self.s.len()
    }
}

fn join(a: &Range<usize>, b: &Range<usize>) -> Range<usize> {
    a.start.min(b.start)..a.end.max(b.end)
}

/// A date phrase and its ISO value, or nothing (precision unknown).
fn date_phrase(rng: &mut Rng, t: &mut Text) -> Option<(String, Range<usize>)> {
    let y = rng.range(2013, 2019);
    let m = rng.range(1, 12) as usize;
    let d = rng.range(1, 28);
    match rng.below(7) {
        0 => Some((format!("{y}"), t.push(&format!("خلال عام {y}")))),
        1 => Some((
            format!("{y}-{m:02}"),
            t.push(&format!("في شهر {} {y}", MONTHS[m - 1])),
        )),
        2 => Some((
            format!("{y}-{m:02}-{d:02}"),
            t.push(&format!("يوم {d} {} {y}", MONTHS[m - 1])),
        )),
        3 => {
            let m1 = rng.range(1, 11) as usize;
            let m2 = rng.range(m1 as i64 + 1, 12) as usize;
            Some((
                format!("{y}-{m1:02}/{y}-{m2:02}"),
                t.push(&format!(
                    "بين شهري {} و{} {y}",
                    MONTHS[m1 - 1],
                    MONTHS[m2 - 1]
                )),
            ))
        }
        4 => {
            let d = d.min(27);
            let d2 = rng.range(d + 1, 28);
            Some((
                format!("{y}-{m:02}-{d:02}/{y}-{m:02}-{d2:02}"),
                t.push(&format!("بين {d} و{d2} {} {y}", MONTHS[m - 1])),
            ))
        }
        5 => Some((
            format!("{y}/{}", y + 1),
            t.push(&format!("بين عامي {y} و{}", y + 1)),
        )),
        _ => None,
    }
}

const ROLES: &[(&str, &str)] = &[
    ("fighter", "مقاتلاً في صفوفه"),
    ("security_officer", "أمنياً"),
    ("intelligence", "في جهاز الاستخبارات"),
    ("military_commander", "قائداً عسكرياً"),
    ("emir_or_leader", "أميراً"),
    ("administrator", "إدارياً في الديوان"),
    ("finance_official", "مسؤولاً في بيت المال"),
    ("hisba", "في جهاز الحسبة"),
    ("media", "في المكتب الإعلامي"),
];

const MOTIVES: &[(&str, &str)] = &[
    ("disillusionment", "اكتشاف حقيقة التنظيم"),
    ("brutality_toward_civilians", "ممارسات التنظيم بحق المدنيين"),
    ("leadership_failure", "فساد القادة"),
    ("military_defeat", "الهزائم المتتالية"),
    ("fear_of_death", "الخوف من الموت"),
    ("financial", "تأخر الرواتب"),
    ("mistreatment_by_isis", "سوء معاملة الأمراء"),
    ("family_safety", "الخوف على عائلته"),
    ("health", "إصابته بمرض"),
    ("infighting_with_rebels", "رفض قتال الفصائل"),
];

fn generate(cx: &Ctx, i: usize) -> Generated {
    let mut rng = Rng::new(cx.seed, i as u64);
    let gaz = cx.gaz;
    let mut t = Text { s: String::new() };
    let mut summary = SynthSummary {
        sources: 1,
        ..SynthSummary::default()
    };

    // Source metadata, title and byline.
    let (pub_ar, pub_en, pub_kind) = *rng.pick(PUBLISHERS);
    let source_id = format!(
        "src-{}-{i:06}",
        slug(pub_en.split(" (").next().unwrap_or(pub_en))
    );
    let short: Vec<&String> = cx
        .sentences
        .iter()
        .filter(|s| (40..=160).contains(&s.len()) && s.split(' ').count() >= 5)
        .collect();
    let title = if short.is_empty() {
        cx.sentences[rng.below(cx.sentences.len())].clone()
    } else {
        short[rng.below(short.len())].clone()
    };
    let mut source_ev = vec![Ev {
        range: t.push(&title),
        fields: vec!["title"],
    }];
    t.push("\n\n");
    let dateline = &gaz.places[gaz.settlements[rng.below(gaz.settlements.len())]];
    t.push(&dateline.name_ar);
    t.push(" – ");
    let r = t.push(pub_ar);
    if rng.chance(50) {
        source_ev.push(Ev {
            range: r,
            fields: vec!["publisher"],
        });
    }
    t.push("\n\n");

    // Which records, in which order among the real sentences.
    #[derive(Clone, Copy)]
    enum Slot {
        Filler(usize),
        Def(usize),
        Evt(usize),
        Stm(usize),
        Mention(usize),
    }
    let n_def = rng.range(2, 6) as usize;
    let n_evt = rng.range(1, 3) as usize;
    let n_stm = rng.range(1, 3) as usize;
    let per_source = gaz.len().div_ceil(cx.n.max(1)).max(2);
    let mentions: Vec<usize> = (0..per_source)
        .map(|j| (i * per_source + j) % gaz.len())
        .collect();
    // Real sentences, each once (a partial shuffle), one of them now and then twice.
    let mut order: Vec<usize> = (0..cx.sentences.len()).collect();
    let mut drawn = 0;
    let mut draw = |rng: &mut Rng| {
        if drawn == order.len() {
            drawn = 0;
        }
        let k = drawn + rng.below(order.len() - drawn);
        order.swap(drawn, k);
        drawn += 1;
        order[drawn - 1]
    };
    let n_fill = rng.range(15, 40) as usize;
    let mut fillers: Vec<usize> = (0..n_fill).map(|_| draw(&mut rng)).collect();
    if rng.chance(40) {
        let again = fillers[rng.below(fillers.len())];
        fillers.push(again);
    }
    let mut slots: Vec<Slot> = fillers.iter().map(|&k| Slot::Filler(k)).collect();
    slots.extend((0..n_def).map(Slot::Def));
    slots.extend((0..n_evt).map(Slot::Evt));
    slots.extend((0..n_stm).map(Slot::Stm));
    slots.extend((0..mentions.len()).map(Slot::Mention));
    rng.shuffle(&mut slots);
    // Texts of 5 to 11 KB: add real sentences while short of the target.
    let target = rng.range(5_000, 11_000) as usize;
    let budget: usize = fillers
        .iter()
        .map(|&k| cx.sentences[k].len() + 2)
        .sum::<usize>()
        + 180 * (n_def + n_evt + mentions.len())
        + 260 * n_stm;
    let mut extra = target.saturating_sub(budget + t.len());
    while extra > 0 {
        let k = draw(&mut rng);
        extra = extra.saturating_sub(cx.sentences[k].len() + 2);
        let at = rng.below(slots.len() + 1);
        slots.insert(at, Slot::Filler(k));
    }

    // Defection ids are fixed before the text, so statements can point at them.
    let subjects: Vec<Option<usize>> = (0..n_def)
        .map(|_| {
            rng.chance(60)
                .then(|| gaz.defectors[rng.below(gaz.defectors.len())])
        })
        .collect();
    let def_ids: Vec<String> = subjects
        .iter()
        .enumerate()
        .map(|(j, s)| match s {
            Some(p) => format!(
                "def-{}-{i:06}-{}",
                gaz.persons[*p].id.trim_start_matches("per-"),
                j + 1
            ),
            None => format!("def-group-{i:06}-{}", j + 1),
        })
        .collect();

    let mut defections = Vec::new();
    let mut events = Vec::new();
    let mut statements = Vec::new();
    let mut mention_out = Vec::new();
    let mut filler_ranges: Vec<Range<usize>> = Vec::new();
    for slot in slots {
        match slot {
            Slot::Filler(k) => {
                filler_ranges.push(t.push(&cx.sentences[k]));
                t.end(&mut rng);
            }
            Slot::Def(j) => {
                defections.push(defection(&mut rng, &mut t, gaz, &def_ids[j], subjects[j]));
                t.end(&mut rng);
            }
            Slot::Evt(j) => {
                events.push(event(&mut rng, &mut t, gaz, &format!("{i:06}-{}", j + 1)));
                t.end(&mut rng);
            }
            Slot::Stm(j) => {
                let def = rng
                    .chance(60)
                    .then(|| def_ids[rng.below(def_ids.len())].as_str());
                statements.push(statement(
                    &mut rng,
                    &mut t,
                    cx,
                    &format!("stm-{i:06}-{}", j + 1),
                    def,
                    pub_ar,
                ));
                t.end(&mut rng);
            }
            Slot::Mention(j) => {
                let (id, name, kind) = gaz.entry(mentions[j]);
                let lead = match kind {
                    Kind::Person => "وأشارت المصادر إلى دور",
                    Kind::Place => "وتتواصل حالات الفرار في",
                    Kind::Actor => "في حين لم يصدر أي تعليق من",
                };
                t.push(lead);
                t.space(&mut rng);
                let r = t.push(name);
                mention_out.push((
                    id.to_string(),
                    vec![Ev {
                        range: r,
                        fields: vec!["name_ar"],
                    }],
                ));
                t.end(&mut rng);
            }
        }
    }
    // A real sentence as evidence for the whole of a record, now and then.
    if !filler_ranges.is_empty() && rng.chance(70) {
        let r = filler_ranges[rng.below(filler_ranges.len())].clone();
        let ev = Ev {
            range: r,
            fields: Vec::new(),
        };
        if rng.chance(50) && !events.is_empty() {
            let k = rng.below(events.len());
            events[k].1.push(ev);
        } else if !defections.is_empty() {
            let k = rng.below(defections.len());
            defections[k].1.push(ev);
        }
    }
    let text = t.s.trim_end().to_string() + "\n";

    // Publication date and the rest of the source block.
    let mut meta = String::new();
    let _ = writeln!(meta, "  title: {}", sq(&title));
    let _ = writeln!(meta, "  publisher: {}", sq(pub_ar));
    let _ = writeln!(meta, "  publisher_en: {}", sq(pub_en));
    if rng.chance(30) {
        let p = &gaz.persons[rng.below(gaz.persons.len())];
        let _ = writeln!(meta, "  author: {}", sq(&p.name_ar));
    } else if rng.chance(50) {
        meta.push_str("  author: null\n");
    }
    meta.push_str("  language: ar\n");
    let _ = writeln!(meta, "  source_kind: {pub_kind}");
    if rng.chance(25) {
        let _ = writeln!(meta, "  relays: [{}]", sq("وكالة الأناضول"));
    }
    let y = rng.range(2014, 2019);
    let published = match rng.below(5) {
        0 => Some(format!("{y}")),
        1 | 2 => Some(format!("{y}-{:02}", rng.range(1, 12))),
        3 => Some(format!(
            "{y}-{:02}-{:02}",
            rng.range(1, 12),
            rng.range(1, 28)
        )),
        _ => None,
    };
    match &published {
        Some(p) => {
            let _ = writeln!(meta, "  published: {p}");
        }
        None => meta.push_str("  published: null\n"),
    }
    if rng.chance(40) {
        let _ = writeln!(
            meta,
            "  url: {}",
            sq(&format!("https://example.org/synthetic/{i}"))
        );
    }
    let _ = writeln!(
        meta,
        "  notes_en: {}",
        sq("Synthetic source generated from sentences of the real seeds.")
    );

    summary.defections = defections.len();
    summary.events = events.len();
    summary.statements = statements.len();
    summary.text_bytes = text.len() as u64;
    let variants = (0..64).map(|_| rng.next_u64()).collect();
    Generated {
        text,
        source_meta: meta,
        source_ev,
        defections,
        events,
        statements,
        mentions: mention_out,
        summary,
        variants,
        source_id,
    }
}

/// Keeps the evidence supporting one of `always`, and each other quote with probability
/// `pct`%: a coder quotes the main claim and some of the details.
fn thin(rng: &mut Rng, ev: Vec<Ev>, always: &str, pct: usize) -> Vec<Ev> {
    ev.into_iter()
        .filter(|e| e.fields.contains(&always) || rng.chance(pct))
        .collect()
}

/// One defection: writes its sentence into `t`, returns its YAML head and evidence.
fn defection(
    rng: &mut Rng,
    t: &mut Text,
    gaz: &Gazetteer,
    id: &str,
    person: Option<usize>,
) -> (String, Vec<Ev>) {
    let mut y = String::new();
    let mut ev = Vec::new();
    let isis = &gaz.actors[0];

    // Who told the source.
    let mut informants = Vec::new();
    if rng.chance(50) {
        if rng.chance(75) && !gaz.informants.is_empty() {
            let p = &gaz.persons[gaz.informants[rng.below(gaz.informants.len())]];
            t.push("وقال الناشط");
            t.space(rng);
            let r = t.push(&p.name_ar);
            ev.push(Ev {
                range: r,
                fields: vec!["informant_ids"],
            });
            informants.push(p.id.clone());
        } else {
            let a = &gaz.actors[rng.below(gaz.actors.len())];
            t.push("وأفاد مراسل");
            t.space(rng);
            let r = t.push(&a.name_ar);
            ev.push(Ev {
                range: r,
                fields: vec!["informant_ids"],
            });
            informants.push(a.id.clone());
        }
        t.push(" أن ");
    } else {
        t.push("وعلمت مصادرنا أن ");
    }

    // Who defected.
    let subject_start = t.len();
    let (subject, subject_ar, sizes, nats, origin, person_ids) = match person {
        Some(p) => {
            let p = &gaz.persons[p];
            let name = if !p.aliases.is_empty() && rng.chance(30) {
                p.aliases[0].clone()
            } else {
                p.name_ar.clone()
            };
            t.push(&name);
            let origin = if p.nats.is_empty() {
                "unknown"
            } else if p.nats.contains(&"SY") {
                "local"
            } else {
                "foreign"
            };
            let sizes = if rng.chance(20) {
                (Some(1), Some(1), Some(1))
            } else {
                (None, None, None)
            };
            (
                "individual",
                name,
                sizes,
                p.nats.clone(),
                origin,
                vec![p.id.clone()],
            )
        }
        None => {
            let n = rng.range(3, 120);
            let (phrase, sizes) = match rng.below(4) {
                0 => (format!("{n} عنصراً"), (Some(n), Some(n), Some(n))),
                1 => {
                    let h = n + rng.range(2, 30);
                    (format!("بين {n} و{h} عنصراً"), (Some(n), None, Some(h)))
                }
                2 => (format!("أكثر من {n} عنصراً"), (Some(n + 1), None, None)),
                _ => (format!("نحو {n} عنصراً"), (None, Some(n), None)),
            };
            t.push(&phrase);
            let (origin_ar, origin) = *rng.pick(&[
                ("من المهاجرين", "foreign"),
                ("من الأنصار", "local"),
                ("من عناصره", "unknown"),
            ]);
            t.space(rng);
            t.push(origin_ar);
            ("group", phrase, sizes, Vec::new(), origin, Vec::new())
        }
    };
    t.space(rng);
    let (stage, verb) = *rng.pick(&[
        ("completed", "انشق عن"),
        ("completed", "انشقوا عن"),
        ("attempted", "حاول الانشقاق عن"),
        ("requested", "طلب الانشقاق عن"),
        ("unknown", "ترك صفوف"),
    ]);
    t.push(verb);
    t.space(rng);
    let actor_r = t.push(&isis.name_ar);
    let mut subj_fields = vec!["subject_ar", "stage"];
    if !nats.is_empty() {
        subj_fields.push("nationalities");
    }
    if person.is_some() {
        subj_fields.push("person_ids");
    } else {
        subj_fields.push("size");
    }
    ev.push(Ev {
        range: subject_start..actor_r.end,
        fields: subj_fields,
    });

    // When and where.
    t.space(rng);
    let date = date_phrase(rng, t);
    if let Some((_, r)) = &date {
        ev.push(Ev {
            range: r.clone(),
            fields: vec!["date"],
        });
        t.space(rng);
    }
    let (place_id, precision) = if rng.chance(85) {
        let p = &gaz.places[gaz.settlements[rng.below(gaz.settlements.len())]];
        let (lead, precision) = *rng.pick(&[
            ("في", "exact"),
            ("قرب", "near"),
            ("في ريف", "district"),
            ("في محافظة", "province"),
        ]);
        let a = t.push(lead);
        t.space(rng);
        let r = t.push(&p.name_ar);
        if rng.chance(50) {
            ev.push(Ev {
                range: join(&a, &r),
                fields: vec!["place_id", "place_precision"],
            });
        }
        (Some(p.id.clone()), precision)
    } else {
        (None, *rng.pick(&["country", "unknown"]))
    };

    // Where they went and what became of them.
    let mut dests = Vec::new();
    let mut outcome_actor = None;
    let outcome = match rng.below(7) {
        0 | 1 => {
            let c = &gaz.places[gaz.countries[rng.below(gaz.countries.len())]];
            t.space(rng);
            let a = t.push("ووصل بسلام إلى");
            t.space(rng);
            let r = t.push(&c.name_ar);
            dests.push(c.id.clone());
            if rng.chance(40) {
                let d = &gaz.places[gaz.settlements[rng.below(gaz.settlements.len())]];
                t.push(" ثم ");
                let r2 = t.push(&d.name_ar);
                if d.id != c.id {
                    dests.push(d.id.clone());
                }
                ev.push(Ev {
                    range: a.start..r2.end,
                    fields: vec!["destination_place_ids", "outcome"],
                });
            } else {
                ev.push(Ev {
                    range: a.start..r.end,
                    fields: vec!["destination_place_ids", "outcome"],
                });
            }
            "reached_safety"
        }
        2 => {
            let a = &gaz.actors[rng.below(gaz.actors.len())];
            t.space(rng);
            let s = t.push("وسلّم نفسه إلى");
            t.space(rng);
            let r = t.push(&a.name_ar);
            outcome_actor = Some(a.id.clone());
            ev.push(Ev {
                range: s.start..r.end,
                fields: vec!["outcome", "outcome_actor_id"],
            });
            "surrendered"
        }
        3 => {
            let a = &gaz.actors[rng.below(gaz.actors.len())];
            t.space(rng);
            let s = t.push("قبل أن يعتقله");
            t.space(rng);
            let r = t.push(&a.name_ar);
            outcome_actor = Some(a.id.clone());
            ev.push(Ev {
                range: s.start..r.end,
                fields: vec!["outcome", "outcome_actor_id"],
            });
            "arrested"
        }
        4 => {
            t.space(rng);
            let r = t.push("ثم أعدمه التنظيم بعد أيام");
            outcome_actor = Some(isis.id.clone());
            ev.push(Ev {
                range: r,
                fields: vec!["outcome", "outcome_actor_id"],
            });
            "executed"
        }
        5 => {
            t.space(rng);
            let r = t.push("ثم عاد إلى صفوف التنظيم");
            ev.push(Ev {
                range: r,
                fields: vec!["outcome"],
            });
            "returned_to_isis"
        }
        _ => "unknown",
    };

    // Money, role and motive.
    let funds = if rng.chance(25) {
        let (amount, cur, word) = if rng.chance(50) {
            (rng.range(1, 100) * 1000, "USD", "دولار أمريكي")
        } else {
            (rng.range(1, 500) * 10_000, "SYP", "ليرة سورية")
        };
        t.space(rng);
        let r = t.push(&format!("حاملاً معه {amount} {word}"));
        ev.push(Ev {
            range: r,
            fields: vec!["funds_taken"],
        });
        Some((amount, cur))
    } else {
        None
    };
    let mut roles = Vec::new();
    if rng.chance(60) {
        let (role, ar) = *rng.pick(ROLES);
        t.space(rng);
        let a = t.push("وكان يعمل");
        t.space(rng);
        let r = t.push(ar);
        roles.push(role);
        if rng.chance(50) {
            ev.push(Ev {
                range: join(&a, &r),
                fields: vec!["roles"],
            });
        }
    } else if rng.chance(30) {
        roles.push("unknown");
    }
    let (motives, basis) = match rng.below(3) {
        0 => {
            let (m, ar) = *rng.pick(MOTIVES);
            t.space(rng);
            let r = t.push(&format!("وقال إنه ترك التنظيم بسبب {ar}"));
            ev.push(Ev {
                range: r,
                fields: vec!["motives", "motive_basis"],
            });
            (vec![m], "self_reported")
        }
        1 => {
            let (m, ar) = *rng.pick(MOTIVES);
            let (m2, ar2) = *rng.pick(MOTIVES);
            t.space(rng);
            let r = t.push(&format!("ويعزو الأهالي ذلك إلى {ar} و{ar2}"));
            ev.push(Ev {
                range: r,
                fields: vec!["motives", "motive_basis"],
            });
            let mut ms = vec![m, m2];
            ms.dedup();
            (ms, "third_party")
        }
        _ => (
            if rng.chance(50) {
                vec!["unstated"]
            } else {
                Vec::new()
            },
            "unstated",
        ),
    };

    let authenticity = *rng.pick(&[
        "genuine",
        "genuine",
        "suspected_infiltrator",
        "disputed",
        "unknown",
    ]);
    let claim = *rng.pick(&["documented", "reported", "reported", "alleged"]);
    let summary = match person {
        Some(p) => format!(
            "{} left the Islamic State ({stage}; outcome {outcome}).",
            gaz.persons[p].name_en
        ),
        None => {
            format!("A group of ISIS members left the organisation ({stage}; outcome {outcome}).")
        }
    };

    let _ = writeln!(y, "  - id: {id}");
    let _ = writeln!(y, "    summary_en: {}", sq(&summary));
    let _ = writeln!(y, "    subject: {subject}");
    let _ = writeln!(y, "    person_ids: [{}]", person_ids.join(", "));
    let _ = writeln!(y, "    subject_ar: {}", sq(&subject_ar));
    for (k, v) in ["size_low", "size_best", "size_high"]
        .iter()
        .zip([sizes.0, sizes.1, sizes.2])
    {
        if let Some(v) = v {
            let _ = writeln!(y, "    {k}: {v}");
        }
    }
    match &date {
        Some((d, _)) => {
            let _ = writeln!(y, "    date: {d}");
        }
        None if rng.chance(50) => y.push_str("    date: null\n"),
        None => {}
    }
    match &place_id {
        Some(p) => {
            let _ = writeln!(y, "    place_id: {p}");
        }
        None => y.push_str("    place_id: null\n"),
    }
    let _ = writeln!(y, "    place_precision: {precision}");
    let _ = writeln!(y, "    destination_place_ids: [{}]", dests.join(", "));
    let _ = writeln!(y, "    nationalities: [{}]", nats.join(", "));
    let _ = writeln!(y, "    origin: {origin}");
    let _ = writeln!(y, "    roles: [{}]", roles.join(", "));
    let _ = writeln!(y, "    motives: [{}]", motives.join(", "));
    let _ = writeln!(y, "    motive_basis: {basis}");
    let _ = writeln!(y, "    stage: {stage}");
    let _ = writeln!(y, "    outcome: {outcome}");
    if let Some(a) = &outcome_actor {
        let _ = writeln!(y, "    outcome_actor_id: {a}");
    }
    let _ = writeln!(y, "    authenticity: {authenticity}");
    match funds {
        Some((amount, cur)) => {
            let _ = writeln!(
                y,
                "    funds_taken_amount: {amount}\n    funds_taken_currency: {cur}"
            );
        }
        None if rng.chance(30) => {
            y.push_str("    funds_taken_amount: null\n    funds_taken_currency: null\n");
        }
        None => {}
    }
    let _ = writeln!(y, "    informant_ids: [{}]", informants.join(", "));
    let _ = writeln!(y, "    claim_status: {claim}");
    if rng.chance(30) {
        let _ = writeln!(
            y,
            "    notes_en: {}",
            sq("Synthetic case; the quotes are spans of the generated text.")
        );
    }
    (y, thin(rng, ev, "subject_ar", 50))
}

/// One event.
fn event(rng: &mut Rng, t: &mut Text, gaz: &Gazetteer, suffix: &str) -> (String, Vec<Ev>) {
    let mut ev = Vec::new();
    // (type, sentence with the perpetrator at `{A}`, sentence without one)
    let (etype, with, without) = *rng.pick(&[
        (
            "mass_execution",
            "وأعدم {A} عدداً من المدنيين",
            "ونُفذت عملية إعدام جماعية",
        ),
        (
            "takeover",
            "وسيطر {A} على المنطقة",
            "وتبدلت السيطرة على المنطقة",
        ),
        (
            "battle",
            "واندلعت معارك عنيفة شارك فيها {A}",
            "واندلعت معارك عنيفة بين الفصائل",
        ),
        (
            "arrest_campaign",
            "وشن {A} حملة اعتقالات",
            "وشهدت المنطقة حملة اعتقالات",
        ),
        (
            "execution_of_deserters",
            "وأعدم {A} عدداً من عناصره بتهمة الانشقاق",
            "وأعدم عدد من المنشقين",
        ),
        ("other", "وفرض {A} حظراً للتجوال", "وفرض حظر للتجوال"),
    ]);
    let perp = if rng.chance(80) {
        Some(if rng.chance(70) {
            &gaz.actors[0]
        } else {
            &gaz.actors[rng.below(gaz.actors.len())]
        })
    } else {
        None
    };
    let start = t.len();
    match perp {
        Some(a) => {
            let (before, after) = with.split_once("{A}").unwrap_or((with, ""));
            t.push(before);
            let r = t.push(&a.name_ar);
            t.push(after);
            ev.push(Ev {
                range: r,
                fields: vec!["perpetrator_actor_id"],
            });
        }
        None => {
            t.push(without);
        }
    }
    let event_r = start..t.len();
    ev.insert(
        0,
        Ev {
            range: event_r,
            fields: vec!["event_type"],
        },
    );
    let n = rng.range(2, 700);
    let deaths = match rng.below(5) {
        0 => {
            t.space(rng);
            let r = t.push(&format!("ما أسفر عن مقتل {n} شخصاً"));
            ev.push(Ev {
                range: r,
                fields: vec!["deaths"],
            });
            (Some(n), Some(n), Some(n))
        }
        1 => {
            let h = n + rng.range(5, 100);
            t.space(rng);
            let r = t.push(&format!("وقتل ما بين {n} و{h} شخصاً"));
            ev.push(Ev {
                range: r,
                fields: vec!["deaths"],
            });
            (Some(n), None, Some(h))
        }
        2 => {
            t.space(rng);
            let r = t.push(&format!("وسقط نحو {n} قتيلاً"));
            ev.push(Ev {
                range: r,
                fields: vec!["deaths"],
            });
            (None, Some(n), None)
        }
        3 => {
            let b = n + rng.range(1, 50);
            t.space(rng);
            let r = t.push(&format!("وقتل أكثر من {n} شخصاً وتشير تقديرات إلى {b}"));
            ev.push(Ev {
                range: r,
                fields: vec!["deaths"],
            });
            (Some(n + 1), Some(b), None)
        }
        _ => (None, None, None),
    };
    t.space(rng);
    let date = date_phrase(rng, t);
    if let Some((_, r)) = &date {
        ev.push(Ev {
            range: r.clone(),
            fields: vec!["date"],
        });
        t.space(rng);
    }
    let place = &gaz.places[gaz.settlements[rng.below(gaz.settlements.len())]];
    let (lead, precision) = *rng.pick(&[
        ("في مدينة", "exact"),
        ("على أطراف", "near"),
        ("في ريف", "district"),
        ("في محافظة", "province"),
    ]);
    let a = t.push(lead);
    t.space(rng);
    let r = t.push(&place.name_ar);
    ev.push(Ev {
        range: join(&a, &r),
        fields: vec!["place_id", "place_precision"],
    });

    let id = format!(
        "evt-{}-{}-{suffix}",
        etype.replace('_', "-"),
        place.id.trim_start_matches("plc-")
    );
    let mut y = String::new();
    let _ = writeln!(y, "  - id: {id}");
    let _ = writeln!(y, "    event_type: {etype}");
    let _ = writeln!(
        y,
        "    summary_en: {}",
        sq(&format!(
            "{} in or near {}.",
            etype.replace('_', " "),
            place.name_en
        ))
    );
    if let Some((d, _)) = &date {
        let _ = writeln!(y, "    date: {d}");
    }
    let _ = writeln!(y, "    place_id: {}", place.id);
    let _ = writeln!(y, "    place_precision: {precision}");
    match perp {
        Some(a) => {
            let _ = writeln!(y, "    perpetrator_actor_id: {}", a.id);
        }
        None => y.push_str("    perpetrator_actor_id: null\n"),
    }
    for (k, v) in ["deaths_low", "deaths_best", "deaths_high"]
        .iter()
        .zip([deaths.0, deaths.1, deaths.2])
    {
        match v {
            Some(v) => {
                let _ = writeln!(y, "    {k}: {v}");
            }
            None => {
                let _ = writeln!(y, "    {k}: null");
            }
        }
    }
    (y, thin(rng, ev, "event_type", 35))
}

const TOPICS: &[(&str, &str)] = &[
    ("motive", "On why he left."),
    ("isis_conduct", "On how ISIS behaves."),
    (
        "regime_collusion",
        "On dealings between ISIS and the regime.",
    ),
    ("recruitment", "On how ISIS recruits."),
    ("punishment", "On punishments."),
    ("military", "On the fighting."),
    ("other", "A remark."),
];

/// A statement: the YAML before and after `quote_ar`, the span of the quote, further evidence.
struct Statement {
    head: String,
    tail: String,
    quote: Range<usize>,
    ev: Vec<Ev>,
}

/// One statement: a span of a real sentence, put in someone's mouth.
fn statement(
    rng: &mut Rng,
    t: &mut Text,
    cx: &Ctx,
    id: &str,
    defection: Option<&str>,
    publisher: &str,
) -> Statement {
    let gaz = cx.gaz;
    let mut ev = Vec::new();
    let speaker = rng
        .chance(75)
        .then(|| &gaz.persons[rng.below(gaz.persons.len())]);
    t.push("وقال");
    t.space(rng);
    let speaker_ar = match speaker {
        Some(p) => p.name_ar.clone(),
        None => "أحد المنشقين".to_string(),
    };
    let sr = t.push(&speaker_ar);
    if rng.chance(50) {
        ev.push(Ev {
            range: sr,
            fields: vec!["speaker_ar"],
        });
    }
    t.push(&format!(" في حديث لـ{publisher}: “"));
    // A run of words of a real sentence.
    let s = &cx.sentences[rng.below(cx.sentences.len())];
    let words: Vec<&str> = s.split(' ').collect();
    let len = rng.range(5.min(words.len()) as i64, words.len().min(20) as i64) as usize;
    let first = rng.below(words.len() - len + 1);
    let q = t.push(&words[first..first + len].join(" "));
    t.push("”");
    let (topic, translation) = *rng.pick(TOPICS);
    let mut y = String::new();
    let _ = writeln!(y, "  - id: {id}");
    match speaker {
        Some(p) => {
            let _ = writeln!(y, "    speaker_person_id: {}", p.id);
        }
        None => y.push_str("    speaker_person_id: null\n"),
    }
    let _ = writeln!(y, "    speaker_ar: {}", sq(&speaker_ar));
    // quote_ar is written by the caller (it needs the occurrence).
    let mut tail = String::new();
    let _ = writeln!(
        tail,
        "    translation_en: {}",
        sq(&format!("(Synthetic) {translation}"))
    );
    let _ = writeln!(tail, "    topic: {topic}");
    match defection {
        Some(d) => {
            let _ = writeln!(tail, "    defection_id: {d}");
        }
        None => tail.push_str("    defection_id: null\n"),
    }
    Statement {
        head: y,
        tail,
        quote: q,
        ev,
    }
}

/// Writes the coding file of one source.
struct Writer<'a> {
    y: String,
    st: SourceText,
    text: &'a str,
    variants: &'a [u64],
    v: usize,
    quotes: usize,
}

impl Writer<'_> {
    fn variant(&mut self) -> u64 {
        self.v += 1;
        mix(self.variants[self.v % self.variants.len()] ^ self.v as u64)
    }

    fn ev(&mut self, e: &Ev, indent: &str) {
        let variant = self.variant();
        let (quote, occ) = quote_of(&self.st, self.text, &e.range, variant);
        self.quotes += 1;
        let y = &mut self.y;
        let _ = writeln!(y, "{indent}- quote: {}", sq_at(&quote, indent.len() + 4));
        if !e.fields.is_empty() || !variant.is_multiple_of(3) {
            let _ = writeln!(y, "{indent}  fields: [{}]", e.fields.join(", "));
        }
        if let Some(o) = occ {
            let _ = writeln!(y, "{indent}  occurrence: {o}");
        }
    }

    fn evidence(&mut self, evs: &[Ev], indent: &str) {
        if evs.is_empty() {
            if self.variant().is_multiple_of(2) {
                self.y.push_str("    evidence: []\n");
            }
            return;
        }
        self.y.push_str("    evidence:\n");
        for e in evs {
            self.ev(e, indent);
        }
    }

    fn records(&mut self, name: &str, recs: &[(String, Vec<Ev>)]) {
        if recs.is_empty() {
            return;
        }
        let _ = writeln!(self.y, "\n{name}:");
        for (head, evs) in recs {
            self.y.push_str(head);
            self.evidence(evs, "      ");
        }
    }
}

impl Generated {
    /// The coding file of this source and the number of quotes in it.
    fn yaml(&self, file_name: &str) -> (String, usize) {
        let mut w = Writer {
            y: String::with_capacity(8192),
            st: SourceText::from_canonical(self.text.clone()),
            text: &self.text,
            variants: &self.variants,
            v: 0,
            quotes: 0,
        };
        let _ = writeln!(w.y, "# Synthetic source {}.", self.source_id);
        w.y.push_str("source:\n");
        let _ = writeln!(w.y, "  id: {}", self.source_id);
        let _ = writeln!(w.y, "  file_name: {file_name}");
        w.y.push_str(&self.source_meta);
        w.y.push_str("  evidence:\n");
        for e in &self.source_ev {
            w.ev(e, "    ");
        }
        w.records("defections", &self.defections);
        w.records("events", &self.events);
        if !self.statements.is_empty() {
            w.y.push_str("\nstatements:\n");
            for s in &self.statements {
                w.y.push_str(&s.head);
                let variant = w.variant();
                let (quote, occ) = quote_of(&w.st, w.text, &s.quote, variant);
                w.quotes += 1;
                let _ = writeln!(w.y, "    quote_ar: {}", sq_at(&quote, 6));
                if let Some(o) = occ {
                    let _ = writeln!(w.y, "    occurrence: {o}");
                }
                w.y.push_str(&s.tail);
                w.evidence(&s.ev, "      ");
            }
        }
        if !self.mentions.is_empty() {
            w.y.push_str("\nmentions:\n");
            for (id, evs) in &self.mentions {
                let _ = writeln!(w.y, "  - record_id: {id}");
                w.y.push_str("    evidence:\n");
                for e in evs {
                    w.ev(e, "      ");
                }
            }
        }
        (w.y, w.quotes)
    }
}

/// The quote for a span of the text, with white-space variants, and its occurrence when the
/// quote occurs more than once (counted with the compiler's quote finder).
fn quote_of(
    st: &SourceText,
    text: &str,
    r: &Range<usize>,
    variant: u64,
) -> (String, Option<usize>) {
    let exact = &text[r.clone()];
    let mut quote: String = match variant % 10 {
        // As the coder types it: plain spaces.
        0..=2 => exact.split_whitespace().collect::<Vec<_>>().join(" "),
        // One space becomes a line break.
        3 | 4 => {
            let gaps: Vec<usize> = exact
                .match_indices(char::is_whitespace)
                .map(|(k, _)| k)
                .collect();
            if gaps.is_empty() {
                exact.to_string()
            } else {
                let k = gaps[(variant / 10) as usize % gaps.len()];
                let c = exact[k..].chars().next().map_or(1, char::len_utf8);
                format!("{}\n{}", &exact[..k], &exact[k + c..])
            }
        }
        // Verbatim.
        _ => exact.to_string(),
    };
    if quote.is_empty() {
        quote = exact.to_string();
    }
    let hits = st.find_all(&quote);
    let occ = match hits.len() {
        0 | 1 => None,
        _ => Some(
            hits.iter()
                .position(|h| h.0 == r.start)
                .map_or(1, |k| k + 1),
        ),
    };
    (quote, occ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
    }

    fn run(dir: &Path, sources: usize, seed: u64) -> SynthSummary {
        synth(&seeds(), dir, &SynthOptions { sources, seed }).expect("synth")
    }

    /// Builds and validates the project at `root`; returns the rows of each table.
    fn build_and_validate(root: &Path) -> std::collections::BTreeMap<String, usize> {
        let spill = tempfile::tempdir().unwrap();
        let built = match crate::records::build(root, spill.path()) {
            Ok(b) => b,
            Err(crate::records::BuildError::Invalid(diags)) => {
                let first: Vec<String> = diags
                    .iter()
                    .take(10)
                    .map(|d| d.render(None, false))
                    .collect();
                panic!(
                    "{} diagnostics; the first:\n{}",
                    diags.len(),
                    first.join("\n")
                );
            }
            Err(e) => panic!("build: {e}"),
        };
        let release = root.join("release");
        let manifest = crate::write::write_into(&release, &built, |_| {
            Ok::<_, crate::write::WriteError>(None)
        })
        .expect("write");
        let report = crate::validate::validate(&release).expect("validate");
        let first: Vec<String> = report
            .findings
            .iter()
            .take(10)
            .map(|f| f.render())
            .collect();
        assert!(
            report.findings.is_empty(),
            "{} findings; the first:\n{}",
            report.findings.len(),
            first.join("\n")
        );
        manifest
            .tables
            .iter()
            .map(|(t, e)| (t.clone(), e.rows as usize))
            .collect()
    }

    #[test]
    fn same_options_give_the_same_bytes_whatever_the_threads() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let sa = pool(1).install(|| run(a.path(), 20, 42));
        let sb = pool(4).install(|| run(b.path(), 20, 42));
        assert_eq!(sa, sb);
        assert!(crate::write::same_tree(a.path(), b.path()).unwrap());
        let c = tempfile::tempdir().unwrap();
        run(c.path(), 20, 43);
        assert!(!crate::write::same_tree(a.path(), c.path()).unwrap());
    }

    #[test]
    fn refuses_a_folder_that_holds_a_project() {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), 1, 5);
        let err = synth(
            &seeds(),
            dir.path(),
            &SynthOptions {
                sources: 1,
                seed: 5,
            },
        )
        .unwrap_err();
        let SynthError::Io { source, .. } = err;
        assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn twenty_sources_build_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let s = run(dir.path(), 20, 1);
        assert_eq!(s.sources, 20);
        let rows = build_and_validate(dir.path());
        assert_eq!(rows["sources"], 20);
        assert_eq!(rows["defections"], s.defections);
        assert_eq!(rows["events"], s.events);
        assert_eq!(rows["statements"], s.statements);
        assert_eq!(rows["evidence"], s.quotes);
        let kb = s.text_bytes / 20 / 1024;
        assert!((4..=12).contains(&kb), "{kb} KB per source");
    }

    #[test]
    fn two_thousand_sources_build_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let s = run(dir.path(), 2_000, 2_000);
        assert_eq!(s.sources, 2_000);
        let rows = build_and_validate(dir.path());
        assert_eq!(rows["sources"], 2_000);
        assert_eq!(rows["defections"], s.defections);
        assert_eq!(rows["evidence"], s.quotes);
        assert_eq!(rows["persons"] + rows["places"] + rows["actors"], 300);
    }

    #[test]
    fn yaml_single_quotes_keep_line_breaks() {
        #[derive(serde::Deserialize)]
        struct Q {
            q: String,
        }
        let y = format!("q: {}\n", sq_at("a b\nc'd\u{a0}e", 4));
        let got: Q = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(got.q, "a b\nc'd\u{a0}e");
    }

    #[test]
    fn prng_is_deterministic_and_uniformish() {
        let mut a = Rng::new(7, 3);
        let mut b = Rng::new(7, 3);
        let xs: Vec<u64> = (0..10).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..10).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(7, 4).next_u64(), xs[0]);
        let mut c = Rng::new(1, 1);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[c.below(4)] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1200).contains(&n)),
            "{counts:?}"
        );
    }
}
