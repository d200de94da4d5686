//! The [`FieldSink`] interface the dissector describes objects to, and [`ValueSink`], which
//! builds `serde_json::Value` trees from it.
use std::fmt::{self, Write as _};

use serde_json::{Map, Number, Value};

/// Receives the description of one JSON-like object tree as a stream of typed fields, in
/// output order. Every value comes with its key; values inside a list come with the key `""`
/// (which sinks ignore there). `begin_*`/`end_*` calls nest properly.
pub trait FieldSink {
    /// A `null` value.
    fn null(&mut self, key: &str);
    /// A boolean.
    fn bool(&mut self, key: &str, v: bool);
    /// A non-negative number.
    fn u64(&mut self, key: &str, v: u64);
    /// A string.
    fn str(&mut self, key: &str, v: &str);
    /// A byte string, shown as a lowercase hex string.
    fn hex(&mut self, key: &str, v: &[u8]);
    /// A string given by its `Display` form (addresses, composed messages).
    fn display(&mut self, key: &str, v: &dyn fmt::Display);
    /// Opens an object; its fields follow until [`FieldSink::end_object`].
    fn begin_object(&mut self, key: &str);
    /// Closes the innermost object.
    fn end_object(&mut self);
    /// Opens a list; its values follow until [`FieldSink::end_list`].
    fn begin_list(&mut self, key: &str);
    /// Closes the innermost list.
    fn end_list(&mut self);
    /// A registry name: the string, or `null` when the registry does not know the value.
    fn name(&mut self, key: &str, v: Option<&str>) {
        match v {
            Some(s) => self.str(key, s),
            None => self.null(key),
        }
    }
}

enum Frame {
    Object(Map<String, Value>, String),
    List(Vec<Value>, String),
}

/// A [`FieldSink`] that builds a `serde_json::Value` (the library's `*_json` functions).
#[derive(Default)]
pub struct ValueSink {
    stack: Vec<Frame>,
    done: Option<Value>,
}

impl ValueSink {
    /// The object made of the fields `f` writes (the object itself is opened and closed here).
    pub fn object(f: impl FnOnce(&mut ValueSink)) -> Value {
        let mut s = ValueSink::default();
        s.begin_object("");
        f(&mut s);
        s.end_object();
        s.finish()
    }

    /// The single value `f` writes (an object or list it opens and closes itself).
    pub fn value(f: impl FnOnce(&mut ValueSink)) -> Value {
        let mut s = ValueSink::default();
        f(&mut s);
        s.finish()
    }

    /// The finished value (`null` if nothing complete was written).
    pub fn finish(mut self) -> Value {
        self.done.take().unwrap_or(Value::Null)
    }

    fn put(&mut self, key: &str, v: Value) {
        match self.stack.last_mut() {
            Some(Frame::Object(m, _)) => {
                m.insert(key.to_owned(), v);
            }
            Some(Frame::List(l, _)) => l.push(v),
            None => self.done = Some(v),
        }
    }
}

impl FieldSink for ValueSink {
    fn null(&mut self, key: &str) {
        self.put(key, Value::Null);
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.put(key, Value::Bool(v));
    }
    fn u64(&mut self, key: &str, v: u64) {
        self.put(key, Value::Number(v.into()));
    }
    fn str(&mut self, key: &str, v: &str) {
        self.put(key, Value::String(v.to_owned()));
    }
    fn hex(&mut self, key: &str, v: &[u8]) {
        self.put(key, Value::String(hex::encode(v)));
    }
    fn display(&mut self, key: &str, v: &dyn fmt::Display) {
        let mut text = String::new();
        let _ = write!(text, "{v}");
        self.put(key, Value::String(text));
    }
    fn begin_object(&mut self, key: &str) {
        self.stack.push(Frame::Object(Map::new(), key.to_owned()));
    }
    fn end_object(&mut self) {
        if let Some(Frame::Object(m, key)) = self.stack.pop() {
            self.put(&key, Value::Object(m));
        }
    }
    fn begin_list(&mut self, key: &str) {
        self.stack.push(Frame::List(Vec::new(), key.to_owned()));
    }
    fn end_list(&mut self) {
        if let Some(Frame::List(l, key)) = self.stack.pop() {
            self.put(&key, Value::Array(l));
        }
    }
}

/// Sends an existing `serde_json::Value` to a sink under `key` (for values built elsewhere;
/// the dissector itself writes to sinks directly). Numbers that are not `u64` are sent as
/// their text.
pub fn replay_value<S: FieldSink + ?Sized>(key: &str, v: &Value, s: &mut S) {
    match v {
        Value::Null => s.null(key),
        Value::Bool(b) => s.bool(key, *b),
        Value::Number(n) => match n.as_u64() {
            Some(u) => s.u64(key, u),
            None => s.display(key, &Number::clone(n)),
        },
        Value::String(t) => s.str(key, t),
        Value::Array(items) => {
            s.begin_list(key);
            for item in items {
                replay_value("", item, s);
            }
            s.end_list();
        }
        Value::Object(m) => {
            s.begin_object(key);
            for (k, item) in m {
                replay_value(k, item, s);
            }
            s.end_object();
        }
    }
}
