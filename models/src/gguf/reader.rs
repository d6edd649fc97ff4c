//! The byte-level parse of a GGUF file's header, metadata and tensor infos. Every read is
//! bounds-checked and a short or malformed file is an error at the offset it broke.

use std::collections::BTreeMap;

use super::value::Value;
use super::{GgmlType, GgufError, TensorInfo};

/// "GGUF" read as a little-endian u32.
pub(super) const MAGIC: u32 = u32::from_le_bytes(*b"GGUF");
/// Alignment of the tensor data when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// Nesting of arrays of arrays a file may use (GGUF allows it; none in practice go deeper).
const MAX_ARRAY_DEPTH: usize = 4;

/// What the header section describes: metadata, tensors, where their data starts.
pub(super) struct Parsed {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: BTreeMap<String, TensorInfo>,
    pub data_start: usize,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], GgufError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.at,
                needed: n,
                size: self.bytes.len(),
            });
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        Ok(self
            .take(N, what)?
            .try_into()
            .expect("take returned N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A count that must fit the file: each counted item takes at least `min_item_bytes`,
    /// so a count larger than the rest of the file can hold is refused (as a truncation)
    /// before anything is allocated for it.
    fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, GgufError> {
        let n = self.u64(what)?;
        let needed = n.saturating_mul(min_item_bytes as u64);
        if needed > (self.bytes.len() - self.at) as u64 {
            return Err(GgufError::Truncated {
                what: format!("{what} {n}"),
                offset: self.at,
                needed: usize::try_from(needed).unwrap_or(usize::MAX),
                size: self.bytes.len(),
            });
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let at = self.at;
        let len = self.count(what, 1)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| GgufError::Malformed {
            offset: at,
            problem: format!("{what} is not UTF-8: {e}"),
        })
    }

    fn value(&mut self, kind: u32, key: &str, depth: usize) -> Result<Value, GgufError> {
        let at = self.at;
        Ok(match kind {
            0 => Value::U8(self.array::<1>(key)?[0]),
            1 => Value::I8(i8::from_le_bytes(self.array(key)?)),
            2 => Value::U16(u16::from_le_bytes(self.array(key)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(key)?)),
            4 => Value::U32(self.u32(key)?),
            5 => Value::I32(i32::from_le_bytes(self.array(key)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(key)?)),
            7 => match self.array::<1>(key)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    return Err(GgufError::Malformed {
                        offset: at,
                        problem: format!("{key}: bool byte {b} is neither 0 nor 1"),
                    });
                }
            },
            8 => Value::String(self.string(key)?),
            9 => {
                if depth == MAX_ARRAY_DEPTH {
                    return Err(GgufError::Malformed {
                        offset: at,
                        problem: format!("{key}: arrays nested deeper than {MAX_ARRAY_DEPTH}"),
                    });
                }
                let item = self.u32(key)?;
                let n = self.count(key, 1)?;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    items.push(self.value(item, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(key)?),
            11 => Value::I64(i64::from_le_bytes(self.array(key)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(key)?)),
            other => {
                return Err(GgufError::Malformed {
                    offset: at,
                    problem: format!("{key}: unknown metadata value type {other}"),
                });
            }
        })
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, GgufError> {
    let mut c = Cursor { bytes, at: 0 };
    let magic = c.u32("the magic number")?;
    if magic != MAGIC {
        return Err(GgufError::NotGguf { magic });
    }
    let version = c.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version(version));
    }
    // A tensor info is at least a name length, a dim count, a type and an offset (24
    // bytes); a metadata pair at least a key length and a type (12).
    let n_tensors = c.count("the tensor count", 24)?;
    let n_metadata = c.count("the metadata count", 12)?;

    let mut metadata = BTreeMap::new();
    for _ in 0..n_metadata {
        let at = c.at;
        let key = c.string("a metadata key")?;
        let kind = c.u32(&key)?;
        let value = c.value(kind, &key, 0)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(GgufError::Malformed {
                offset: at,
                problem: format!("metadata key {key:?} appears twice"),
            });
        }
    }
    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => {
            v.as_u64()
                .filter(|a| a.is_power_of_two())
                .ok_or_else(|| GgufError::Metadata {
                    key: "general.alignment".to_string(),
                    problem: format!("{v} is not a power of two"),
                })?
        }
    };

    let mut tensors = BTreeMap::new();
    for _ in 0..n_tensors {
        let at = c.at;
        let name = c.string("a tensor name")?;
        let n_dims = c.u32(&name)? as usize;
        if !(1..=4).contains(&n_dims) {
            return Err(GgufError::Malformed {
                offset: at,
                problem: format!("tensor {name:?} has {n_dims} dimensions (GGML allows 1 to 4)"),
            });
        }
        let mut dims = Vec::with_capacity(n_dims);
        for _ in 0..n_dims {
            dims.push(c.u64(&name)?);
        }
        let ggml_type = GgmlType::from_id(c.u32(&name)?, &name)?;
        let offset = c.u64(&name)?;
        if !offset.is_multiple_of(alignment) {
            return Err(GgufError::Malformed {
                offset: at,
                problem: format!(
                    "tensor {name:?} starts at data offset {offset}, not a multiple of the alignment {alignment}"
                ),
            });
        }
        let info = TensorInfo::new(&name, dims, ggml_type, offset)?;
        if tensors.insert(name.clone(), info).is_some() {
            return Err(GgufError::Malformed {
                offset: at,
                problem: format!("tensor {name:?} appears twice"),
            });
        }
    }
    let data_start = (c.at as u64).next_multiple_of(alignment) as usize;
    // Every tensor's bytes must lie inside the file.
    for info in tensors.values() {
        let end = data_start as u64 + info.offset + info.bytes as u64;
        if end > bytes.len() as u64 {
            return Err(GgufError::Truncated {
                what: format!("the data of tensor {:?}", info.name),
                offset: (data_start as u64 + info.offset) as usize,
                needed: info.bytes,
                size: bytes.len(),
            });
        }
    }
    Ok(Parsed {
        version,
        metadata,
        tensors,
        data_start,
    })
}
