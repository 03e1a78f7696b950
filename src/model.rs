//! The record types of schema v1: one struct per release table, one enum per vocabulary.
//!
//! In: nothing (these are the types). Out: the JSON Schemas under `schema/v1/` (derived by
//! schemars, see [`crate::schema`]), the Arrow schemas of the Parquet tables (derived from the
//! JSON Schemas) and the JSONL lines (serde). Field order is column order: primary key first,
//! `record_sha256` last. Every field is always present; absent values are `null` or `[]`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A closed list of values (a codebook vocabulary).
pub trait Vocabulary: Sized + Copy {
    /// The vocabulary's name, e.g. `Stage`.
    const NAME: &'static str;
    /// Every value, in codebook order.
    const VALUES: &'static [&'static str];
    /// Parses a value; `None` when it is not one of [`Self::VALUES`].
    fn parse(s: &str) -> Option<Self>;
    /// The value as written in the data.
    fn as_str(self) -> &'static str;
}

/// Declares a vocabulary: a closed enum whose values are lowercase snake_case strings.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $value)] $variant,)+
        }
        impl Vocabulary for $name {
            const NAME: &'static str = stringify!($name);
            const VALUES: &'static [&'static str] = &[$($value),+];
            fn parse(s: &str) -> Option<Self> {
                match s { $($value => Some(Self::$variant),)+ _ => None }
            }
            fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value,)+ }
            }
        }
    };
}

vocabulary!(
    /// How precise a date is (UCDP/ACLED style).
    DatePrecision { Day => "day", Month => "month", Year => "year", Range => "range", Unknown => "unknown" }
);
vocabulary!(
    /// What kind of publisher a source is.
    SourceKind { NewsOutlet => "news_outlet", MonitoringGroup => "monitoring_group", CoalitionOrGovernment => "coalition_or_government", ResearchOrg => "research_org" }
);
vocabulary!(
    /// Whether a case is one person or a group reported together.
    Subject { Individual => "individual", Group => "group" }
);
vocabulary!(
    /// How precisely the source places an event or case (after UCDP's `where_prec`).
    PlacePrecision { Exact => "exact", Near => "near", District => "district", Province => "province", Country => "country", Unknown => "unknown" }
);
vocabulary!(
    /// ISIS's ansar/muhajir split, relative to where the defector served.
    Origin { Local => "local", Foreign => "foreign", Unknown => "unknown" }
);
vocabulary!(
    /// Role of a defector inside ISIS.
    Role { Fighter => "fighter", SecurityOfficer => "security_officer", Intelligence => "intelligence", MilitaryCommander => "military_commander", EmirOrLeader => "emir_or_leader", Administrator => "administrator", FinanceOfficial => "finance_official", Hisba => "hisba", Media => "media", Unknown => "unknown" }
);
vocabulary!(
    /// Motive for defecting (after ICSR 2015, widened).
    Motive { Disillusionment => "disillusionment", BrutalityTowardCivilians => "brutality_toward_civilians", LeadershipFailure => "leadership_failure", MilitaryDefeat => "military_defeat", FearOfDeath => "fear_of_death", Financial => "financial", MistreatmentByIsis => "mistreatment_by_isis", FamilySafety => "family_safety", Health => "health", InfightingWithRebels => "infighting_with_rebels", Unstated => "unstated" }
);
vocabulary!(
    /// Who states the motive.
    MotiveBasis { SelfReported => "self_reported", ThirdParty => "third_party", Unstated => "unstated" }
);
vocabulary!(
    /// How far the defection got.
    Stage { Requested => "requested", Attempted => "attempted", Completed => "completed", Unknown => "unknown" }
);
vocabulary!(
    /// What became of the defectors.
    Outcome { ReachedSafety => "reached_safety", Surrendered => "surrendered", Arrested => "arrested", Executed => "executed", ReturnedToIsis => "returned_to_isis", Unknown => "unknown" }
);
vocabulary!(
    /// Whether the defection is genuine or a suspected infiltration.
    Authenticity { Genuine => "genuine", SuspectedInfiltrator => "suspected_infiltrator", Disputed => "disputed", Unknown => "unknown" }
);
vocabulary!(
    /// How well the claim is established.
    ClaimStatus { Documented => "documented", Reported => "reported", Alleged => "alleged" }
);
vocabulary!(
    /// What kind of name a person is known by.
    NameKind { FullName => "full_name", Kunya => "kunya", Nickname => "nickname", Initials => "initials" }
);
vocabulary!(
    /// A person's part in the story.
    PersonCategory { Defector => "defector", Informant => "informant", Official => "official", IsisLeader => "isis_leader", Other => "other" }
);
vocabulary!(
    /// Kind of place.
    Feature { Country => "country", Region => "region", City => "city", Town => "town", Village => "village", District => "district", Facility => "facility" }
);
vocabulary!(
    /// How precise a place's coordinates are.
    CoordPrecision { Exact => "exact", Settlement => "settlement", Region => "region", Country => "country", None => "none" }
);
vocabulary!(
    /// Kind of actor.
    ActorKind { JihadistGroup => "jihadist_group", RebelGroup => "rebel_group", StateForces => "state_forces", Government => "government", InternationalCoalition => "international_coalition", Media => "media", MonitoringGroup => "monitoring_group" }
);
vocabulary!(
    /// Kind of context event.
    EventType { MassExecution => "mass_execution", Takeover => "takeover", Battle => "battle", ArrestCampaign => "arrest_campaign", ExecutionOfDeserters => "execution_of_deserters", Other => "other" }
);
vocabulary!(
    /// What a quoted statement is about.
    Topic { Motive => "motive", IsisConduct => "isis_conduct", RegimeCollusion => "regime_collusion", Recruitment => "recruitment", Punishment => "punishment", Military => "military", Other => "other" }
);

/// A calendar date, `YYYY-MM-DD` (a Parquet DATE).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Date(pub String);

impl JsonSchema for Date {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        })
    }
}

/// A lowercase hexadecimal sha256 digest.
pub type Sha256Hex = String;

/// One source document (`sources` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceRecord {
    /// `src-` slug.
    pub source_id: String,
    /// File name in `seeds/`.
    pub file_name: String,
    /// Title in the original language.
    pub title: String,
    /// Publisher as printed.
    pub publisher: String,
    /// Publisher's English name.
    pub publisher_en: String,
    /// Author, where given.
    pub author: Option<String>,
    /// BCP 47 language tag.
    pub language: String,
    /// Kind of publisher.
    pub source_kind: SourceKind,
    /// Outlets or agencies the source reports from.
    pub relays: Vec<String>,
    /// First day of the publication date.
    pub published_start: Option<Date>,
    /// Last day of the publication date.
    pub published_end: Option<Date>,
    /// Precision of the publication date.
    pub published_precision: DatePrecision,
    /// Address of the original, where known.
    pub url: Option<String>,
    /// sha256 of the raw file bytes.
    pub sha256: Sha256Hex,
    /// sha256 of the canonical text.
    pub text_sha256: Sha256Hex,
    /// Size of the raw file in bytes.
    pub bytes: i64,
    /// Code points in the canonical text.
    pub chars: i64,
    /// Release-relative path of the archived canonical text.
    pub text_path: String,
    /// Coder's notes.
    pub notes_en: Option<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// One defection case (`defections` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefectionRecord {
    /// `def-` slug.
    pub defection_id: String,
    /// One sentence, the coder's.
    pub summary_en: String,
    /// Individual or group.
    pub subject: Subject,
    /// The named or pseudonymous people in the case.
    pub person_ids: Vec<String>,
    /// The source's own words for who defected, verbatim.
    pub subject_ar: String,
    /// Lowest size.
    pub size_low: Option<i64>,
    /// Best estimate of the size.
    pub size_best: Option<i64>,
    /// Highest size.
    pub size_high: Option<i64>,
    /// First possible day.
    pub date_start: Option<Date>,
    /// Last possible day.
    pub date_end: Option<Date>,
    /// Date precision.
    pub date_precision: DatePrecision,
    /// Where they served or left from.
    pub place_id: Option<String>,
    /// How precisely the source places it.
    pub place_precision: PlacePrecision,
    /// Where they went.
    pub destination_place_ids: Vec<String>,
    /// ISO 3166-1 alpha-2 codes.
    pub nationalities: Vec<String>,
    /// Local or foreign, relative to where they served.
    pub origin: Origin,
    /// Role codes.
    pub roles: Vec<Role>,
    /// Motive codes.
    pub motives: Vec<Motive>,
    /// Who states the motive.
    pub motive_basis: MotiveBasis,
    /// How far the defection got.
    pub stage: Stage,
    /// What became of them.
    pub outcome: Outcome,
    /// Who received, caught or killed them.
    pub outcome_actor_id: Option<String>,
    /// Genuine or suspected infiltrator.
    pub authenticity: Authenticity,
    /// Money taken.
    pub funds_taken_amount: Option<f64>,
    /// ISO 4217 currency of the money taken.
    pub funds_taken_currency: Option<String>,
    /// Persons or actors who told the source.
    pub informant_ids: Vec<String>,
    /// Sources with evidence for this case (derived).
    pub source_ids: Vec<String>,
    /// How well established the claim is.
    pub claim_status: ClaimStatus,
    /// Coder's notes.
    pub notes_en: Option<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// A person (`persons` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    /// `per-` slug.
    pub person_id: String,
    /// Name as written.
    pub name_ar: String,
    /// Transliteration.
    pub name_en: String,
    /// Kind of name.
    pub name_kind: NameKind,
    /// Other spellings met.
    pub aliases_ar: Vec<String>,
    /// ISO 3166-1 alpha-2 codes.
    pub nationalities: Vec<String>,
    /// Part in the story.
    pub category: PersonCategory,
    /// Organisation the person belongs to.
    pub affiliation_actor_id: Option<String>,
    /// Coder's notes.
    pub notes_en: Option<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// A place (`places` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceRecord {
    /// `plc-` slug.
    pub place_id: String,
    /// Name as most often written in the sources.
    pub name_ar: String,
    /// Every other spelling met.
    pub aliases_ar: Vec<String>,
    /// English name.
    pub name_en: String,
    /// Kind of place.
    pub feature: Feature,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    /// Enclosing place.
    pub parent_place_id: Option<String>,
    /// WGS 84 latitude.
    pub latitude: Option<f64>,
    /// WGS 84 longitude.
    pub longitude: Option<f64>,
    /// GeoNames id.
    pub geonames_id: Option<i64>,
    /// Precision of the coordinates.
    pub coord_precision: CoordPrecision,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// An actor (`actors` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorRecord {
    /// `act-` slug.
    pub actor_id: String,
    /// Arabic name.
    pub name_ar: String,
    /// English name.
    pub name_en: String,
    /// Kind of actor.
    pub kind: ActorKind,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// A context event (`events` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// `evt-` slug.
    pub event_id: String,
    /// Kind of event.
    pub event_type: EventType,
    /// One sentence, the coder's.
    pub summary_en: String,
    /// First possible day.
    pub date_start: Option<Date>,
    /// Last possible day.
    pub date_end: Option<Date>,
    /// Date precision.
    pub date_precision: DatePrecision,
    /// Where it happened.
    pub place_id: Option<String>,
    /// How precisely the source places it.
    pub place_precision: PlacePrecision,
    /// Who did it.
    pub perpetrator_actor_id: Option<String>,
    /// Lowest death toll.
    pub deaths_low: Option<i64>,
    /// Best estimate of the death toll.
    pub deaths_best: Option<i64>,
    /// Highest death toll.
    pub deaths_high: Option<i64>,
    /// Sources with evidence for this event (derived).
    pub source_ids: Vec<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// Quoted testimony (`statements` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRecord {
    /// `stm-` slug.
    pub statement_id: String,
    /// The speaker, where identified.
    pub speaker_person_id: Option<String>,
    /// The speaker as the source names them.
    pub speaker_ar: String,
    /// The quoted words, verbatim from the source.
    pub quote_ar: String,
    /// The coder's translation.
    pub translation_en: String,
    /// What the statement is about.
    pub topic: Topic,
    /// The case the statement belongs to.
    pub defection_id: Option<String>,
    /// The source quoting it.
    pub source_id: String,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// One quoted span: the provenance of a claim (`evidence` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRecord {
    /// `<record_id>/<n>`.
    pub evidence_id: String,
    /// Table of the record this span supports.
    pub record_table: String,
    /// Id of the record this span supports.
    pub record_id: String,
    /// Columns the span supports; empty = the record as a whole.
    pub fields: Vec<String>,
    /// Source the span is taken from.
    pub source_id: String,
    /// Start, in code points of the canonical text.
    pub char_start: i64,
    /// End (exclusive), in code points.
    pub char_end: i64,
    /// Start, in UTF-8 bytes of the canonical text.
    pub byte_start: i64,
    /// End (exclusive), in UTF-8 bytes.
    pub byte_end: i64,
    /// The canonical text between the offsets.
    pub exact: String,
    /// Up to 32 code points before the span.
    pub prefix: String,
    /// Up to 32 code points after the span.
    pub suffix: String,
    /// sha256 of `exact` in UTF-8.
    pub quote_sha256: Sha256Hex,
    /// sha256 of the canonical text of the source.
    pub source_text_sha256: Sha256Hex,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}

/// A withdrawn record (`retractions` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetractionRecord {
    /// The withdrawn id.
    pub record_id: String,
    /// Table the record was in.
    pub record_table: String,
    /// Why it was withdrawn.
    pub reason: String,
    /// The record that replaces it, if any.
    pub replaced_by: Option<String>,
    /// sha256 of the record's RFC 8785 JSON without this field.
    pub record_sha256: Sha256Hex,
}
