//! The value a key holds, one variant per Redis type, and the type checks that turn a
//! wrong variant into Redis's WRONGTYPE error.

use std::collections::VecDeque;

use super::bytes::SmallBytes;
use super::stream::Stream;
use super::zset::ZSet;
use super::{HashMap, HashSet};
use crate::cmd::CmdError;

pub enum Value {
    Str(SmallBytes),
    List(Box<VecDeque<SmallBytes>>),
    Hash(Box<HashMap<SmallBytes, SmallBytes>>),
    Set(Box<HashSet<SmallBytes>>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

macro_rules! accessors {
    ($as_ref:ident, $as_mut:ident, $variant:ident, $ty:ty) => {
        /// The inner value, or WRONGTYPE.
        pub fn $as_ref(&self) -> Result<&$ty, CmdError> {
            match self {
                Value::$variant(v) => Ok(v),
                _ => Err(CmdError::WrongType),
            }
        }

        /// The inner value mutably, or WRONGTYPE.
        pub fn $as_mut(&mut self) -> Result<&mut $ty, CmdError> {
            match self {
                Value::$variant(v) => Ok(v),
                _ => Err(CmdError::WrongType),
            }
        }
    };
}

impl Value {
    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    accessors!(as_str, as_str_mut, Str, SmallBytes);
    accessors!(as_list, as_list_mut, List, VecDeque<SmallBytes>);
    accessors!(as_hash, as_hash_mut, Hash, HashMap<SmallBytes, SmallBytes>);
    accessors!(as_set, as_set_mut, Set, HashSet<SmallBytes>);
    accessors!(as_zset, as_zset_mut, ZSet, ZSet);
    accessors!(as_stream, as_stream_mut, Stream, Stream);

    /// True for an aggregate left with no elements (Redis deletes such keys).
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) | Value::Stream(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }

    /// An independent copy of the value (COPY), whatever its type.
    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::Set(s) => Value::Set(s.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
            Value::Stream(s) => Value::Stream(s.clone()),
        }
    }

    pub fn new_list() -> Value {
        Value::List(Box::default())
    }

    pub fn new_hash() -> Value {
        Value::Hash(Box::default())
    }

    pub fn new_set() -> Value {
        Value::Set(Box::default())
    }

    pub fn new_zset() -> Value {
        Value::ZSet(Box::default())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_is_compact() {
        // A string value must not cost more than its 24-byte SmallBytes handle.
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
    }
}
