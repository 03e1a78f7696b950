//! The committed schemas are what the record types generate; the Arrow schemas are fixed.

use defections::schema;
use defections::tables::Table;

#[test]
fn committed_json_schemas_match_the_record_types() {
    for t in Table::ALL {
        let generated = schema::render(&schema::generate(t));
        assert_eq!(
            schema::embedded(t),
            generated,
            "schema/v1/{t}.schema.json is stale: run `defections schema --write`"
        );
    }
}

#[test]
fn arrow_schemas_are_fixed() {
    let all: String = Table::ALL
        .iter()
        .map(|t| {
            format!(
                "## {t}\n{}",
                schema::describe_arrow(&schema::arrow_schema(*t))
            )
        })
        .collect();
    insta::assert_snapshot!(all);
}

#[test]
fn every_table_has_its_key_first_and_the_record_hash_last() {
    for t in Table::ALL {
        let cols = schema::columns(t);
        assert_eq!(cols.first().unwrap().0, t.key(), "{t}");
        assert_eq!(cols.last().unwrap().0, "record_sha256", "{t}");
    }
}

#[test]
fn no_column_is_an_sql_keyword() {
    // DuckDB's reserved words that could plausibly be column names.
    const RESERVED: &[&str] = &[
        "all",
        "and",
        "any",
        "array",
        "as",
        "case",
        "cast",
        "check",
        "column",
        "constraint",
        "create",
        "default",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "into",
        "is",
        "join",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "or",
        "order",
        "primary",
        "references",
        "select",
        "table",
        "then",
        "to",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "when",
        "where",
        "with",
        "window",
        "date",
        "time",
        "year",
        "month",
        "day",
        "source",
        "order",
        "range",
        "position",
    ];
    for t in Table::ALL {
        for (c, _) in schema::columns(t) {
            assert!(!RESERVED.contains(&c.as_str()), "{t}.{c} is an SQL keyword");
        }
    }
}
