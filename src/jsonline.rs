//! One JSONL line read in place: the hot path of validate (every line of a release) and of
//! compile (every row it finishes).
//!
//! In: the bytes of one line. Out: a [`Val`] tree whose strings borrow from the line (only
//! strings with escapes are copied), which the JSON Schema validator reads directly (this
//! module implements `jsonschema`'s `Json` representation traits for it) and whose RFC 8785
//! form ([`record_hash`], the crate's one RFC 8785 writer) gives `record_sha256` without
//! building a `serde_json::Value`. Comparing releases reads only the id of a line
//! ([`member_str`]: the other members are skipped).
//!
//! A `serde_json::Value` costs a `String` per key and value and a hash table per object; a
//! release's JSONL is mostly short strings, so building one per line was the largest part of
//! validating (and compile built one per row to hash and check it). Numbers keep
//! `serde_json::Number` (parsed by serde_json), so they compare and format exactly as before.
//! An object with a repeated key is not accepted: a `Value` would silently keep the last one.

use std::borrow::Cow;
use std::fmt;

use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON value borrowing its strings from the line it was read from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Val<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Val<'a>>),
    /// Members in the order of the line.
    Object(Vec<(Cow<'a, str>, Val<'a>)>),
}

impl<'a> From<&'a Value> for Val<'a> {
    /// A tree borrowing the value's strings.
    fn from(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(n.clone()),
            Value::String(s) => Val::String(Cow::Borrowed(s)),
            Value::Array(items) => Val::Array(items.iter().map(Val::from).collect()),
            Value::Object(m) => Val::Object(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::from(v)))
                    .collect(),
            ),
        }
    }
}

/// The text of one line: its UTF-8 is checked once, with SIMD, so that serde_json reads it as
/// a `str` and does not check each string again. Not UTF-8: serde_json's error, as it would
/// have reported it.
pub fn text(bytes: &[u8]) -> Result<&str, serde_json::Error> {
    simdutf8::basic::from_utf8(bytes).map_err(|_| match serde_json::from_slice::<Val>(bytes) {
        Err(e) => e,
        // serde_json accepts no invalid UTF-8 in JSON text.
        Ok(_) => serde::de::Error::custom("the line is not UTF-8"),
    })
}

/// Parses one line (without or with its newline); the error is serde_json's, with its column.
pub fn parse(text: &str) -> Result<Val<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Val<'de>, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Val<'de>, E> {
        Ok(Val::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Val<'de>, E> {
        Ok(Val::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val<'de>, E> {
        Number::from_f64(v)
            .map(Val::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Val<'de>, E> {
        Ok(Val::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Val<'de>, E> {
        Ok(Val::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Val<'de>, E> {
        Ok(Val::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val<'de>, D::Error> {
        Val::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Val::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Val<'de>)> = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let v = map.next_value()?;
            members.push((key, v));
        }
        if let Some(key) = repeated(&members) {
            return Err(de::Error::custom(format_args!(
                "the key `{key}` occurs twice"
            )));
        }
        Ok(Val::Object(members))
    }
}

/// A key that occurs more than once among `members`: in a record-sized object, a key is
/// compared with the keys before it only when one of them has the same length, first and last
/// byte (a 64-bit filter), so distinct record keys are seldom compared at all; a larger object
/// is sorted (a hostile line may hold hundreds of thousands of keys).
fn repeated<'m>(members: &'m [(Cow<'_, str>, Val<'_>)]) -> Option<&'m str> {
    if members.len() <= 32 {
        let mut seen = 0u64;
        for (i, (k, _)) in members.iter().enumerate() {
            let b = k.as_bytes();
            let (first, last) = (b.first().copied(), b.last().copied());
            let h = b.len() as u64 * 7
                + u64::from(first.unwrap_or(0)) * 3
                + u64::from(last.unwrap_or(0));
            let bit = 1u64 << (h % 64);
            if seen & bit != 0 && members[..i].iter().any(|(earlier, _)| earlier == k) {
                return Some(k.as_ref());
            }
            seen |= bit;
        }
        return None;
    }
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// An object key, borrowed when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(K)
    }
}

/// The string member `key` of the object on a line, found without building the object (the
/// other members are parsed and skipped); `None` when there is no such string member. The
/// whole line must be JSON.
pub fn member_str<'a>(text: &'a str, key: &str) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
    struct Member<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for Member<'_> {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Member<'_> {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(k) = map.next_key_seed(KeySeed)? {
                if k == self.0 && found.is_none() {
                    if let Val::String(s) = map.next_value::<Val>()? {
                        found = Some(s);
                    }
                } else {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(found)
        }
        // Anything but an object: no member.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let found = Member(key).deserialize(&mut d)?;
    d.end()?;
    Ok(found)
}

impl<'a> Val<'a> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Val::Object(m) => member(m, key),
            _ => None,
        }
    }

    /// The member `key` of an object when it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Val::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Sets the member `key` of an object (added at the end when it is not there).
    pub fn set(&mut self, key: &str, value: Val<'a>) {
        if let Val::Object(m) = self {
            match m.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => m.push((Cow::Owned(key.to_owned()), value)),
            }
        }
    }

    /// As a `serde_json::Value` (for error messages).
    pub fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Number(n) => Value::Number(n.clone()),
            Val::String(s) => Value::String(s.to_string()),
            Val::Array(items) => Value::Array(items.iter().map(Val::to_value).collect()),
            Val::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// A typed value read from a tree already parsed (the line is not parsed a second time); the
/// same result as `serde_json::from_str` on the line, errors without a position.
pub fn from_val<'a, T: Deserialize<'a>>(v: &'a Val<'_>) -> Result<T, serde_json::Error> {
    T::deserialize(v)
}

impl<'a, 'v: 'a> Deserializer<'a> for &'a Val<'v> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Val::Null => visitor.visit_unit(),
            Val::Bool(b) => visitor.visit_bool(*b),
            Val::Number(n) => n.deserialize_any(visitor),
            Val::String(s) => visitor.visit_borrowed_str(s),
            Val::Array(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.iter());
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Val::Object(members) => {
                let entries = members.iter().map(|(k, v)| (&**k, v));
                let mut map = de::value::MapDeserializer::new(entries);
                let v = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(v)
            }
        }
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Val::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            // A unit variant, as the vocabularies are.
            Val::String(s) => {
                visitor.visit_enum(de::value::BorrowedStrDeserializer::<Self::Error>::new(s))
            }
            other => Err(de::Error::invalid_type(unexpected(other), &"a string")),
        }
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'a>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'a, 'v: 'a> de::IntoDeserializer<'a, serde_json::Error> for &'a Val<'v> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// How a value is named in a type error.
fn unexpected<'a>(v: &'a Val<'_>) -> de::Unexpected<'a> {
    match v {
        Val::Null => de::Unexpected::Unit,
        Val::Bool(b) => de::Unexpected::Bool(*b),
        Val::Number(_) => de::Unexpected::Other("number"),
        Val::String(s) => de::Unexpected::Str(s),
        Val::Array(_) => de::Unexpected::Seq,
        Val::Object(_) => de::Unexpected::Map,
    }
}

/// The member `key` of an object's members (a scan: a record has a few dozen at most).
fn member<'m, 'a>(members: &'m [(Cow<'a, str>, Val<'a>)], key: &str) -> Option<&'m Val<'a>> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `record_sha256` of a record line: the sha256 of the RFC 8785 form of the object without its
/// `record_sha256` member (what the full implementation, `tables::record_hash_full`, gives).
pub fn record_hash(v: &Val<'_>) -> String {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let fast = BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        jcs(v, &mut buf, true).then(|| crate::tables::sha256_hex(&buf))
    });
    // Integers beyond 2^53: the full implementation, from a Value.
    fast.unwrap_or_else(|| crate::tables::record_hash_full(&v.to_value()))
}

/// Appends the RFC 8785 form of `v` (without a top-level `record_sha256` when `top`); `false`
/// for an integer beyond 2^53 in magnitude.
fn jcs(v: &Val<'_>, out: &mut Vec<u8>, top: bool) -> bool {
    match v {
        Val::Object(m) if top => TOP_ORDER.with(|order| {
            let mut order = order.borrow_mut();
            order.update(m);
            jcs_members(order.sorted.iter().map(|&at| &m[at as usize]), out)
        }),
        Val::Object(m) => {
            let mut entries: Vec<&(Cow<'_, str>, Val<'_>)> = m.iter().collect();
            sort_members(&mut entries, |(k, _)| k.as_ref());
            jcs_members(entries, out)
        }
        Val::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !jcs(item, out, false) {
                    return false;
                }
            }
            out.push(b']');
            true
        }
        Val::Null => {
            out.extend_from_slice(b"null");
            true
        }
        Val::Bool(b) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" });
            true
        }
        Val::Number(n) => jcs_number(n, out),
        Val::String(s) => {
            jcs_string(s, out);
            true
        }
    }
}

/// Appends an object of `members`, already in RFC 8785 order; `false` as [`jcs`].
fn jcs_members<'m, 'a: 'm>(
    members: impl IntoIterator<Item = &'m (Cow<'a, str>, Val<'a>)>,
    out: &mut Vec<u8>,
) -> bool {
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jcs_string(k, out);
        out.push(b':');
        if !jcs(v, out, false) {
            return false;
        }
    }
    out.push(b'}');
    true
}

thread_local! {
    static TOP_ORDER: std::cell::RefCell<MemberOrder> = std::cell::RefCell::new(MemberOrder::default());
}

/// The RFC 8785 order of a record's members (without `record_sha256`), kept for the keys of
/// the last record seen on this thread: the lines of a table have the same keys in the same
/// order, so comparing the keys with the last ones replaces sorting them on almost every line.
#[derive(Default)]
struct MemberOrder {
    keys: Vec<String>,
    /// Places in `keys` of the members to write, in the order to write them.
    sorted: Vec<u32>,
}

impl MemberOrder {
    fn update(&mut self, m: &[(Cow<'_, str>, Val<'_>)]) {
        let same =
            self.keys.len() == m.len() && self.keys.iter().zip(m).all(|(known, (k, _))| known == k);
        if same {
            return;
        }
        self.keys.clear();
        self.keys.extend(m.iter().map(|(k, _)| k.to_string()));
        self.sorted.clear();
        self.sorted.extend(
            (0..m.len())
                .filter(|&i| m[i].0 != "record_sha256")
                .map(|i| u32::try_from(i).expect("fewer than 2^32 members")),
        );
        sort_members(&mut self.sorted, |&i| m[i as usize].0.as_ref());
    }
}

/// Sorts object members as RFC 8785 orders keys: by their UTF-16 code units (the same as byte
/// order when every key is ASCII, which is checked first as it is the common case).
fn sort_members<'k, T>(entries: &mut [T], key: impl Fn(&T) -> &'k str) {
    if entries.iter().all(|e| key(e).is_ascii()) {
        entries.sort_by(|a, b| key(a).cmp(key(b)));
    } else {
        entries.sort_by(|a, b| key(a).encode_utf16().cmp(key(b).encode_utf16()));
    }
}

/// Appends the RFC 8785 form of a number; `false` for an integer beyond 2^53 in magnitude.
/// Floats are written as ECMAScript writes them (`ryu-js`, the formatter the full
/// implementation uses).
fn jcs_number(n: &Number, out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    const SAFE: u64 = 1 << 53;
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) if i.unsigned_abs() <= SAFE => {
            let _ = write!(out, "{i}");
        }
        (None, Some(u), _) if u <= SAFE => {
            let _ = write!(out, "{u}");
        }
        (None, None, Some(f)) if f.is_finite() => {
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes())
        }
        _ => return false,
    }
    true
}

/// Appends the RFC 8785 form of a string: escaped as serde_json escapes it, which is what JCS
/// asks for (`\"`, `\\`, `\b \t \n \f \r`, other control characters as lowercase `\u00xx`).
///
/// Most strings of a record need no escape at all (ids, hashes, Arabic text): those are found
/// 32 bytes at a time (a loop the compiler vectorises) and copied whole; serde_json writes the
/// others.
fn jcs_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if needs_escape(bytes) {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    }
}

/// Whether a JSON string needs an escape: a control character, `"` or `\\`. Each whole
/// 32-byte chunk, then the shorter rest, is tested without a branch per byte (a loop the
/// compiler vectorises).
fn needs_escape(bytes: &[u8]) -> bool {
    let escaped = |chunk: &[u8]| {
        chunk.iter().fold(0u8, |any, &b| {
            any | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\')
        }) != 0
    };
    let chunks = bytes.chunks_exact(32);
    let rest = chunks.remainder();
    chunks.into_iter().any(escaped) || escaped(rest)
}

/// The `jsonschema` representation of [`Val`] trees.
pub struct Lines;

impl Json for Lines {
    type Node<'a> = &'a Val<'a>;
    type PreparedKey = String;
    type StringBuffer = Val<'static>;
    // Objects are short lists: a pass over the members beats a few lookups.
    const KEYS_PER_LOOKUP: usize = 8;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Val<'static>,
        string: &str,
        f: impl FnOnce(Self::Node<'_>) -> T,
    ) -> T {
        *buffer = Val::String(Cow::Owned(string.to_owned()));
        f(buffer)
    }
}

impl<'a> Node<'a, Lines> for &'a Val<'a> {
    type Object = &'a [(Cow<'a, str>, Val<'a>)];
    type Array = &'a [Val<'a>];
    type Number = &'a Number;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Val::Object(m) => Some(m),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Val::Array(items) => Some(items),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Val::String(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<&'a Number> {
        match self {
            Val::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
    fn json_type(&self) -> JsonType {
        match self {
            Val::Null => JsonType::Null,
            Val::Bool(_) => JsonType::Boolean,
            Val::Number(_) => JsonType::Number,
            Val::String(_) => JsonType::String,
            Val::Array(_) => JsonType::Array,
            Val::Object(_) => JsonType::Object,
        }
    }
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Val::to_value(self))
    }
    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Val<'a>>(*self) as usize
        ))
    }
}

/// The members of an object, as the validator iterates them.
pub struct Members<'a>(std::slice::Iter<'a, (Cow<'a, str>, Val<'a>)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Val<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'a> Object<'a, Lines> for &'a [(Cow<'a, str>, Val<'a>)] {
    type Node = &'a Val<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn get(&self, key: &String) -> Option<&'a Val<'a>> {
        member(self, key)
    }
    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

impl<'a> Array<'a, Lines> for &'a [Val<'a>] {
    type Node = &'a Val<'a>;
    type ElementsIter = std::slice::Iter<'a, Val<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_as_the_value_it_holds() {
        let line = br#"{"a":"x\"y","b":[1,-2,2.5,null,true],"c":{"\u00e9":"\u0001"}}"#;
        let v = parse(std::str::from_utf8(line).unwrap()).unwrap();
        let value: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v.to_value(), value);
        assert!(matches!(v.get("a"), Some(Val::String(Cow::Owned(_)))));
    }

    #[test]
    fn a_line_that_is_not_utf8_gets_serde_jsons_error() {
        let line = b"{\"a\":\"\xff\"}";
        let theirs = serde_json::from_slice::<Value>(line)
            .unwrap_err()
            .to_string();
        assert_eq!(text(line).unwrap_err().to_string(), theirs);
        assert_eq!(text(br#"{"a":"\u00e9"}"#).unwrap(), r#"{"a":"\u00e9"}"#);
    }

    #[test]
    fn a_member_is_found_without_the_rest() {
        let line = r#"{"a":[1,{"id":"no"}],"id":"x\u0041","b":null}"#;
        assert_eq!(member_str(line, "id").unwrap().as_deref(), Some("xA"));
        assert_eq!(member_str(line, "b").unwrap(), None);
        assert_eq!(member_str("[1]", "id").unwrap(), None);
        assert!(member_str(r#"{"id":"x"} {"#, "id").is_err());
        assert!(member_str(r#"{"id":"x","#, "id").is_err());
    }

    #[test]
    fn a_repeated_key_is_refused() {
        let e = parse(r#"{"a":1,"b":{"c":1,"c":2}}"#).unwrap_err();
        assert!(e.to_string().contains("the key `c` occurs twice"), "{e}");
        // Many keys: found without comparing every pair.
        let mut line: String = (0..200_000).map(|i| format!(",\"k{i}\":0")).collect();
        line.replace_range(..1, "{");
        let unique = format!("{line}}}");
        assert!(parse(&unique).is_ok());
        let twice = format!("{line},\"k77\":1}}");
        let e = parse(&twice).unwrap_err();
        assert!(e.to_string().contains("the key `k77` occurs twice"), "{e}");
    }

    #[test]
    fn a_repeated_key_is_found_among_keys_the_filter_confuses() {
        // Same length, first and last byte: the filter sends them to a full comparison.
        assert!(parse(r#"{"axb":1,"ayb":2,"azb":3}"#).is_ok());
        let e = parse(r#"{"axb":1,"ayb":2,"q":0,"ayb":3,"axb":4}"#).unwrap_err();
        assert!(e.to_string().contains("the key `ayb` occurs twice"), "{e}");
        let e = parse(r#"{"":1,"a":2,"":3}"#).unwrap_err();
        assert!(e.to_string().contains("the key `` occurs twice"), "{e}");
    }

    #[test]
    fn an_escape_is_found_at_every_place_of_a_string() {
        for len in [0, 1, 31, 32, 33, 64, 65, 100] {
            let plain = "ا".repeat(len / 2) + &"x".repeat(len % 2);
            assert!(!needs_escape(plain.as_bytes()), "{len}");
            for at in 0..plain.len() {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut b = plain.clone().into_bytes();
                    b[at] = special;
                    assert!(needs_escape(&b), "{len} {at} {special}");
                }
            }
        }
    }

    #[test]
    fn the_record_hash_is_right_whatever_record_came_before_on_the_thread() {
        // The member order kept from one record must never serve a record with other keys,
        // the same keys in another order, or a repeated key set after another.
        let lines = [
            r#"{"b":1,"a":2,"record_sha256":"x","c":3}"#,
            r#"{"b":4,"a":5,"record_sha256":"x","c":6}"#,
            r#"{"a":5,"b":4,"record_sha256":"x","c":6}"#,
            r#"{"a":5,"b":4,"c":6}"#,
            r#"{"a":5,"b":4,"record_sha256":"x","é":6}"#,
            r#"{"b":1,"a":2,"record_sha256":"x","c":3}"#,
            r#"{"record_sha256":"x"}"#,
            r#"{}"#,
            r#"{"z":{"y":1,"x":2},"record_sha256":"x","a":[{"d":1,"c":2}]}"#,
        ];
        for line in lines.iter().chain(lines.iter().rev()) {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                record_hash(&parse(line).unwrap()),
                crate::tables::record_hash_full(&v),
                "{line}"
            );
        }
    }

    #[test]
    fn the_record_hash_is_the_hash_of_the_value() {
        for line in [
            r#"{"b":1,"a":[true,null,"x\u0001\n\"\\/é😀"],"record_sha256":"x","A":{"z":-3,"é":0}}"#,
            r#"{"amount":50000.0,"f":-0.0,"g":0.1,"record_sha256":"y"}"#,
            r#"{"big":9007199254740993,"record_sha256":"z"}"#,
            r#"{"😀":1,"｡":2,"record_sha256":"z"}"#,
        ] {
            let value: Value = serde_json::from_str(line).unwrap();
            let want = crate::tables::record_hash_full(&value);
            assert_eq!(record_hash(&parse(line).unwrap()), want, "{line}");
        }
    }

    /// Every line of every table of the committed release reads as the same record from its
    /// tree as from its text.
    #[test]
    fn a_record_reads_from_its_tree_as_from_its_line() {
        use crate::model::*;
        fn same<R: crate::tables::Record + PartialEq + std::fmt::Debug>() -> usize {
            let path = format!(
                "{}/data/releases/1.0.0/records/{}.jsonl",
                env!("CARGO_MANIFEST_DIR"),
                R::TABLE.name()
            );
            let text = std::fs::read_to_string(path).unwrap();
            for line in text.lines() {
                let tree = parse(line).unwrap();
                let want: R = serde_json::from_str(line).unwrap();
                assert_eq!(from_val::<R>(&tree).unwrap(), want, "{line}");
            }
            text.lines().count()
        }
        let lines = same::<SourceRecord>()
            + same::<DefectionRecord>()
            + same::<PersonRecord>()
            + same::<PlaceRecord>()
            + same::<ActorRecord>()
            + same::<EventRecord>()
            + same::<StatementRecord>()
            + same::<EvidenceRecord>()
            + same::<RetractionRecord>();
        assert!(lines > 100, "{lines}");
        // What the line would refuse, the tree refuses.
        for bad in [
            r#"{"record_id":"x","record_table":"t","reason":"r","replaced_by":null,"record_sha256":"h","extra":1}"#,
            r#"{"record_id":"x","record_table":"t","reason":"r","record_sha256":5}"#,
            r#"{"record_id":1}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<RetractionRecord>(bad).is_err());
            assert!(
                from_val::<RetractionRecord>(&parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
        let line = r#"{"a":1.5,"b":2,"c":null,"d":"day","e":"2014-09"}"#;
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct T {
            a: f64,
            b: f64,
            c: Option<i64>,
            d: DatePrecision,
            e: Date,
        }
        let want: T = serde_json::from_str(line).unwrap();
        assert_eq!(from_val::<T>(&parse(line).unwrap()).unwrap(), want);
        for bad in [
            r#"{"a":1,"b":2,"c":1.5,"d":"day","e":"x"}"#,
            r#"{"a":1,"b":2,"c":1,"d":"days","e":"x"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err());
            assert!(from_val::<T>(&parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let long = "حركة أحرار الشام ".repeat(5);
        for s in [
            "",
            "plain-ascii-id/12",
            long.as_str(),
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{1f}\u{7f}\u{2028}",
            &format!("{long}\n"),
            &format!("{long}\"{long}"),
        ] {
            let mut ours = Vec::new();
            jcs_string(s, &mut ours);
            assert_eq!(ours, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn floats_are_written_here_and_only_huge_integers_are_left_to_the_full_implementation() {
        let mut out = Vec::new();
        let v = parse(r#"{"a":50000.0,"b":-0.0,"c":1e-7}"#).unwrap();
        assert!(jcs(&v, &mut out, true));
        assert_eq!(out, br#"{"a":50000,"b":0,"c":1e-7}"#);
        assert!(!jcs(
            &parse(r#"{"big":9007199254740993}"#).unwrap(),
            &mut Vec::new(),
            true
        ));
    }

    #[test]
    fn the_validator_reads_lines_as_it_reads_values() {
        let schema = serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "n"],
            "properties": {
                "id": {"type": "string", "pattern": "^x-", "minLength": 3},
                "n": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true},
                "when": {"type": ["string", "null"], "format": "date"}
            }
        });
        let lines = jsonschema::options_for::<Lines>()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let values = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        for line in [
            r#"{"id":"x-1","n":0,"tags":["a","b"],"when":"2016-02-29"}"#,
            r#"{"id":"x-1","n":0,"when":null}"#,
            r#"{"id":"y-1","n":-1,"tags":["a","a","c"],"when":"2015-02-29","extra":1}"#,
            r#"{"n":1.5}"#,
            r#"[1]"#,
        ] {
            let v = parse(line).unwrap();
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(lines.is_valid(&v), values.is_valid(&value), "{line}");
            let ours: Vec<String> = lines
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            let theirs: Vec<String> = values
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert_eq!(ours, theirs, "{line}");
        }
    }
}
