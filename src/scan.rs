//! A record's top-level fields read through its `Serialize`, without building a JSON value.
//!
//! In: a record (any type that serializes as a struct, as every table's record does). Out:
//! calls to a [`Visit`]: for each field, the strings it holds (the field itself, or the items
//! of a list) and whether it is *filled* in the sense of the coverage statistics: not null,
//! not a list without a filled item, not an empty string, not `unknown` or `unstated`. This is
//! what `serde_json::to_value` followed by a walk of the value gives (`tests` below compare the
//! two), without allocating: the datasheet and `defections stats` read every row this way.

use serde::ser::{self, Serialize};

/// Receives what [`scan`] reads of a record.
pub trait Visit {
    /// Field `field` holds the string `s` (as its value, or as an item of its list).
    fn string(&mut self, field: &'static str, s: &str);
    /// Field `field` has been read: whether it is filled.
    fn field(&mut self, field: &'static str, filled: bool);
}

/// Reads `row`'s fields into `visit`. A value that does not serialize as a struct gives no
/// calls.
pub fn scan<R: Serialize + ?Sized, V: Visit>(row: &R, visit: &mut V) {
    let _ = row.serialize(Top(visit));
}

/// Whether a string counts as filled.
pub fn filled_str(s: &str) -> bool {
    !s.is_empty() && s != "unknown" && s != "unstated"
}

/// The error type the serializers need; scanning itself never fails.
#[derive(Debug)]
pub struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// The record itself: only a struct is read.
struct Top<'v, V>(&'v mut V);

/// A field's value at `depth` (0: the field, 1: an item of its list, ...): gives whether it
/// is filled, and hands strings at depth 0 and 1 to the visitor.
struct Leaf<'v, V> {
    visit: &'v mut V,
    field: &'static str,
    depth: u8,
}

/// A list's items: filled when one of them is.
struct Items<'v, V> {
    leaf: Leaf<'v, V>,
    any: bool,
}

/// An object (a map, a nested struct, an enum with data): filled whatever it holds, and its
/// members are not read.
struct Object;

impl<'v, V: Visit> ser::SerializeStruct for Top<'v, V> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let filled = value.serialize(Leaf {
            visit: &mut *self.0,
            field: key,
            depth: 0,
        })?;
        self.0.field(key, filled);
        Ok(())
    }
    fn end(self) -> Result<(), Unsupported> {
        Ok(())
    }
}

macro_rules! not_a_struct {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Unsupported> { Err(Unsupported) })*
    };
}

impl<'v, V: Visit> ser::Serializer for Top<'v, V> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Unsupported> {
        Ok(self)
    }
    not_a_struct!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

impl<'v, V: Visit> Leaf<'v, V> {
    fn string(self, s: &str) -> Result<bool, Unsupported> {
        if self.depth <= 1 {
            self.visit.string(self.field, s);
        }
        Ok(filled_str(s))
    }
    fn items(self) -> Items<'v, V> {
        Items {
            leaf: self,
            any: false,
        }
    }
}

macro_rules! filled {
    ($($method:ident($arg:ty)),* $(,)?) => {
        $(fn $method(self, _: $arg) -> Result<bool, Unsupported> { Ok(true) })*
    };
}

impl<'v, V: Visit> ser::Serializer for Leaf<'v, V> {
    type Ok = bool;
    type Error = Unsupported;
    type SerializeSeq = Items<'v, V>;
    type SerializeTuple = Items<'v, V>;
    type SerializeTupleStruct = Items<'v, V>;
    type SerializeTupleVariant = Object;
    type SerializeMap = Object;
    type SerializeStruct = Object;
    type SerializeStructVariant = Object;

    filled!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
    );
    fn serialize_char(self, c: char) -> Result<bool, Unsupported> {
        self.string(c.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, s: &str) -> Result<bool, Unsupported> {
        self.string(s)
    }
    /// Bytes are a JSON array of numbers: filled unless empty.
    fn serialize_bytes(self, b: &[u8]) -> Result<bool, Unsupported> {
        Ok(!b.is_empty())
    }
    fn serialize_none(self) -> Result<bool, Unsupported> {
        Ok(false)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<bool, Unsupported> {
        Ok(false)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, Unsupported> {
        Ok(false)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, Unsupported> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, Unsupported> {
        Ok(true)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Items<'v, V>, Unsupported> {
        Ok(self.items())
    }
    fn serialize_tuple(self, _: usize) -> Result<Items<'v, V>, Unsupported> {
        Ok(self.items())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Items<'v, V>, Unsupported> {
        Ok(self.items())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Object, Unsupported> {
        Ok(Object)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object, Unsupported> {
        Ok(Object)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object, Unsupported> {
        Ok(Object)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Object, Unsupported> {
        Ok(Object)
    }
}

impl<V: Visit> Items<'_, V> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        let filled = value.serialize(Leaf {
            visit: &mut *self.leaf.visit,
            field: self.leaf.field,
            depth: self.leaf.depth.saturating_add(1),
        })?;
        self.any |= filled;
        Ok(())
    }
}

/// The sequence-like serializers of a list cell: each element is a leaf of its own.
macro_rules! items {
    ($($tr:ident :: $method:ident),*) => {$(
        impl<V: Visit> ser::$tr for Items<'_, V> {
            type Ok = bool;
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.item(value)
            }
            fn end(self) -> Result<bool, Unsupported> {
                Ok(self.any)
            }
        }
    )*};
}
items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// A nested object or variant cell: filled whatever it holds, nothing inside is read.
macro_rules! object {
    ($($tr:ident { $(fn $method:ident($($arg:ty),*);)* })*) => {$(
        impl ser::$tr for Object {
            type Ok = bool;
            type Error = Unsupported;
            $(fn $method<T: Serialize + ?Sized>(&mut self, $(_: $arg,)* _: &T) -> Result<(), Unsupported> {
                Ok(())
            })*
            fn end(self) -> Result<bool, Unsupported> {
                Ok(true)
            }
        }
    )*};
}
object!(
    SerializeTupleVariant { fn serialize_field(); }
    SerializeMap { fn serialize_key(); fn serialize_value(); }
    SerializeStruct { fn serialize_field(&'static str); }
    SerializeStructVariant { fn serialize_field(&'static str); }
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::Value;

    /// What a walk of `serde_json::to_value` gives: per field, filled and its strings.
    fn by_value<R: Serialize>(row: &R) -> Vec<(String, bool, Vec<String>)> {
        fn filled(v: &Value) -> bool {
            match v {
                Value::Null => false,
                Value::Array(a) => a.iter().any(filled),
                Value::String(s) => !s.is_empty() && s != "unknown" && s != "unstated",
                _ => true,
            }
        }
        let v = serde_json::to_value(row).unwrap();
        let Value::Object(m) = v else {
            return Vec::new();
        };
        m.iter()
            .map(|(k, v)| {
                let strings = match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                    _ => Vec::new(),
                };
                (k.clone(), filled(v), strings)
            })
            .collect()
    }

    #[derive(Default)]
    struct Collect(Vec<(String, bool, Vec<String>)>, Vec<String>);

    impl Visit for Collect {
        fn string(&mut self, _: &'static str, s: &str) {
            self.1.push(s.to_string());
        }
        fn field(&mut self, field: &'static str, filled: bool) {
            let strings = std::mem::take(&mut self.1);
            self.0.push((field.to_string(), filled, strings));
        }
    }

    fn by_scan<R: Serialize>(row: &R) -> Vec<(String, bool, Vec<String>)> {
        let mut c = Collect::default();
        scan(row, &mut c);
        c.0
    }

    #[derive(Serialize)]
    enum Kind {
        #[serde(rename = "unknown")]
        Unknown,
        #[serde(rename = "deserted")]
        Deserted,
        Data(u8),
    }

    #[derive(Serialize)]
    struct Inner {
        a: Option<String>,
    }

    #[derive(Serialize)]
    struct Row {
        id: String,
        empty: String,
        unstated: String,
        none: Option<i64>,
        some: Option<i64>,
        zero: i64,
        flag: bool,
        kind: Kind,
        known: Kind,
        data: Kind,
        list: Vec<String>,
        unknowns: Vec<Kind>,
        nulls: Vec<Option<String>>,
        empty_list: Vec<String>,
        nested: Vec<Vec<String>>,
        object: Inner,
        newtype: Date,
        pair: (Option<u8>, String),
    }

    #[derive(Serialize)]
    struct Date(String);

    #[test]
    fn scan_agrees_with_a_walk_of_the_json_value() {
        let row = Row {
            id: "DEF-1".into(),
            empty: String::new(),
            unstated: "unstated".into(),
            none: None,
            some: Some(3),
            zero: 0,
            flag: false,
            kind: Kind::Unknown,
            known: Kind::Deserted,
            data: Kind::Data(1),
            list: vec!["unknown".into(), "a".into()],
            unknowns: vec![Kind::Unknown, Kind::Unknown],
            nulls: vec![None, None],
            empty_list: Vec::new(),
            nested: vec![vec![], vec!["x".into()]],
            object: Inner { a: None },
            newtype: Date("2015-06".into()),
            pair: (None, "unknown".into()),
        };
        let expected = by_value(&row);
        assert_eq!(by_scan(&row), expected);
        // The cases that matter, spelled out (so that both walks cannot be wrong together).
        let filled: Vec<(&str, bool)> = expected.iter().map(|(k, f, _)| (k.as_str(), *f)).collect();
        assert!(filled.contains(&("unknowns", false)));
        assert!(filled.contains(&("unstated", false)));
        assert!(filled.contains(&("empty", false)));
        assert!(filled.contains(&("kind", false)));
        assert!(filled.contains(&("known", true)));
        assert!(filled.contains(&("nested", true)));
        assert!(filled.contains(&("object", true)));
        assert!(filled.contains(&("pair", false)));
        assert!(filled.contains(&("zero", true)));
    }

    #[test]
    fn every_record_of_the_committed_release_scans_as_its_json_value() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/releases/1.0.0");
        let t = crate::validate::load(&dir).expect("the committed release loads");
        fn all<R: Serialize>(rows: &[R]) -> usize {
            for r in rows {
                assert_eq!(by_scan(r), by_value(r));
            }
            rows.len()
        }
        let n = all(&t.sources)
            + all(&t.defections)
            + all(&t.persons)
            + all(&t.places)
            + all(&t.actors)
            + all(&t.events)
            + all(&t.statements)
            + all(&t.evidence)
            + all(&t.retractions);
        assert!(n > 100, "{n} records");
    }
}
