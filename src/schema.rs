//! Schema v1: the JSON Schemas derived from [`crate::model`] and the Arrow schemas derived from them.
//!
//! In: the record types. Out: `schema/v1/<table>.schema.json` (generated, committed, and
//! compiled into the binary so that a release can never bring a looser schema of its own),
//! compiled JSON Schema validators, and the fixed Arrow schema of every Parquet table.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use schemars::{generate::SchemaSettings, JsonSchema};
use serde_json::{json, Value};

use crate::model::*;
use crate::tables::Table;

/// The schema version this compiler writes and validates.
pub const SCHEMA_VERSION: &str = "1";

/// The committed JSON Schema files, compiled in. `schema --check` and a test keep them equal
/// to what the record types generate.
pub fn embedded(table: Table) -> &'static str {
    match table {
        Table::Sources => include_str!("../schema/v1/sources.schema.json"),
        Table::Defections => include_str!("../schema/v1/defections.schema.json"),
        Table::Persons => include_str!("../schema/v1/persons.schema.json"),
        Table::Places => include_str!("../schema/v1/places.schema.json"),
        Table::Actors => include_str!("../schema/v1/actors.schema.json"),
        Table::Events => include_str!("../schema/v1/events.schema.json"),
        Table::Statements => include_str!("../schema/v1/statements.schema.json"),
        Table::Evidence => include_str!("../schema/v1/evidence.schema.json"),
        Table::Retractions => include_str!("../schema/v1/retractions.schema.json"),
    }
}

fn root_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// Generates the JSON Schema of `table` from the record types.
pub fn generate(table: Table) -> Value {
    let mut schema = match table {
        Table::Sources => root_for::<SourceRecord>(),
        Table::Defections => root_for::<DefectionRecord>(),
        Table::Persons => root_for::<PersonRecord>(),
        Table::Places => root_for::<PlaceRecord>(),
        Table::Actors => root_for::<ActorRecord>(),
        Table::Events => root_for::<EventRecord>(),
        Table::Statements => root_for::<StatementRecord>(),
        Table::Evidence => root_for::<EvidenceRecord>(),
        Table::Retractions => root_for::<RetractionRecord>(),
    };
    let obj = schema
        .as_object_mut()
        .expect("a struct schema is an object");
    // Every column is present in every record, null or not.
    let keys: Vec<Value> = obj["properties"]
        .as_object()
        .expect("a struct has properties")
        .keys()
        .map(|k| json!(k))
        .collect();
    obj.insert("required".into(), Value::Array(keys));
    let mut out = serde_json::Map::new();
    out.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    out.insert(
        "$id".into(),
        json!(format!(
            "urn:defections:schema:v{SCHEMA_VERSION}:{}",
            table.name()
        )),
    );
    for (k, v) in std::mem::take(obj) {
        if k != "$schema" {
            out.insert(k, v);
        }
    }
    out.insert("title".into(), json!(table.name()));
    Value::Object(out)
}

/// The committed file text for a generated schema (pretty JSON, trailing newline).
pub fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("a JSON value serialises");
    s.push('\n');
    s
}

/// The JSON Schema validator of `table`, built once from the embedded schema.
pub fn validator(table: Table) -> &'static jsonschema::Validator {
    static CELLS: [OnceLock<jsonschema::Validator>; 9] = [const { OnceLock::new() }; 9];
    let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
    CELLS[i].get_or_init(|| {
        let schema: Value =
            serde_json::from_str(embedded(table)).expect("the embedded schema is JSON");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the embedded schema compiles")
    })
}

/// The compiled JSON Schema of `table` for lines read in place ([`crate::jsonline`]): the same
/// schema, options and draft as [`validator`] (compiled once per table).
pub fn line_validator(table: Table) -> &'static jsonschema::Validator<crate::jsonline::Lines> {
    static CELLS: [OnceLock<jsonschema::Validator<crate::jsonline::Lines>>; 9] =
        [const { OnceLock::new() }; 9];
    let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
    CELLS[i].get_or_init(|| {
        let schema: Value =
            serde_json::from_str(embedded(table)).expect("the embedded schema is JSON");
        jsonschema::options_for::<crate::jsonline::Lines>()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .expect("the embedded schema compiles")
    })
}

/// The columns of `table` with their JSON Schema, in order (parsed once).
pub fn columns(table: Table) -> &'static [(String, Value)] {
    static CELLS: [OnceLock<Vec<(String, Value)>>; 9] = [const { OnceLock::new() }; 9];
    let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
    CELLS[i].get_or_init(|| {
        let schema: Value =
            serde_json::from_str(embedded(table)).expect("the embedded schema is JSON");
        schema["properties"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    })
}

/// The JSON types a property schema's `type` names, without `null`, and whether `null` is
/// one of them.
pub fn json_types(prop: &Value) -> (Vec<String>, bool) {
    let mut types: Vec<String> = match prop.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let nullable = types.iter().any(|t| t == "null");
    types.retain(|t| t != "null");
    (types, nullable)
}

/// `(types, nullable)` of a property schema, looking through `anyOf` with `null`.
fn types_of(prop: &Value) -> (Vec<String>, bool, &Value) {
    if let Some(any) = prop.get("anyOf").and_then(Value::as_array) {
        let mut nullable = false;
        let mut inner = prop;
        for alt in any {
            if alt.get("type") == Some(&json!("null")) {
                nullable = true;
            } else {
                inner = alt;
            }
        }
        let (t, n, i) = types_of(inner);
        return (t, n || nullable, i);
    }
    let (types, nullable) = json_types(prop);
    (types, nullable, prop)
}

fn arrow_type(prop: &Value) -> (DataType, bool) {
    let (types, nullable, prop) = types_of(prop);
    let ty = match types.first().map(String::as_str) {
        Some("integer") => DataType::Int64,
        Some("number") => DataType::Float64,
        Some("boolean") => DataType::Boolean,
        Some("array") => {
            let (item, _) = arrow_type(&prop["items"]);
            DataType::List(Arc::new(Field::new("item", item, false)))
        }
        Some("string") if prop.get("format") == Some(&json!("date")) => DataType::Date32,
        _ => DataType::Utf8,
    };
    (ty, nullable)
}

/// The fixed Arrow schema of `table`: one field per JSON Schema property, in order.
pub fn arrow_schema(table: Table) -> SchemaRef {
    static CELLS: [OnceLock<SchemaRef>; 9] = [const { OnceLock::new() }; 9];
    let i = Table::ALL.iter().position(|t| *t == table).unwrap_or(0);
    CELLS[i]
        .get_or_init(|| {
            let fields: Vec<Field> = columns(table)
                .iter()
                .map(|(name, prop)| {
                    let (ty, nullable) = arrow_type(prop);
                    Field::new(name, ty, nullable)
                })
                .collect();
            Arc::new(ArrowSchema::new(fields))
        })
        .clone()
}

/// A one-line-per-column rendering of an Arrow schema (`name: Type [not null]`), for
/// snapshot tests and validator messages.
pub fn describe_arrow(schema: &ArrowSchema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}\n",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " not null" }
            )
        })
        .collect()
}
