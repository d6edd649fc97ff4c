//! The GGUF reader against data/fixtures/gguf/blocks.gguf, written by the `gguf` package
//! from PyPI (scripts/make_gguf_fixtures.py): metadata of every type, the tensor table, and
//! every supported tensor type dequantized bit for bit as that package computes it; then
//! the files it must refuse, each refusal naming what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fak_models::ModelError;
use fak_models::gguf::{GgmlType, GgufError, GgufFile, Value};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/gguf/blocks.gguf")
}

fn open_bytes(bytes: &[u8]) -> Result<GgufFile, GgufError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.gguf");
    std::fs::write(&path, bytes).unwrap();
    match GgufFile::open(&path) {
        Ok(f) => Ok(f),
        Err(ModelError::Gguf { source, .. }) => Err(source),
        Err(other) => panic!("expected a GGUF error, got {other}"),
    }
}

#[test]
fn metadata_of_every_type_reads_as_written() {
    let f = GgufFile::open(&fixture()).unwrap();
    assert_eq!(f.version(), 3);
    let expect = [
        ("fixture.u8", Value::U8(200)),
        ("fixture.i8", Value::I8(-100)),
        ("fixture.u16", Value::U16(60000)),
        ("fixture.i16", Value::I16(-30000)),
        ("fixture.u32", Value::U32(4_000_000_000)),
        ("fixture.i32", Value::I32(-2_000_000_000)),
        ("fixture.f32", Value::F32(0.1)),
        ("fixture.bool", Value::Bool(true)),
        ("fixture.string", Value::String("naïve ✓".to_string())),
        ("fixture.u64", Value::U64((1 << 63) + 1)),
        ("fixture.i64", Value::I64(-(1 << 62))),
        ("fixture.f64", Value::F64(0.1)),
        ("general.architecture", Value::String("fixture".to_string())),
    ];
    for (key, value) in expect {
        assert_eq!(f.get(key), Some(&value), "{key}");
    }
    let strings: Vec<&str> = f
        .get("fixture.array")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(strings, ["a", "bc", ""]);
    let ints: Vec<u64> = f
        .get("fixture.ints")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ints, [1, 2, 3]);
}

#[test]
fn the_tensor_table_gives_types_row_major_shapes_and_sizes() {
    let f = GgufFile::open(&fixture()).unwrap();
    let types: BTreeMap<&str, (GgmlType, usize)> = f
        .tensors()
        .map(|t| (t.name.as_str(), (t.ggml_type, t.bytes)))
        .collect();
    let values = 3 * 512;
    assert_eq!(types["plain.f32"], (GgmlType::F32, values * 4));
    assert_eq!(types["plain.f16"], (GgmlType::F16, values * 2));
    assert_eq!(types["plain.bf16"], (GgmlType::Bf16, values * 2));
    assert_eq!(types["quant.q5_0"], (GgmlType::Q5_0, values / 32 * 22));
    assert_eq!(types["quant.q8_0"], (GgmlType::Q8_0, values / 32 * 34));
    assert_eq!(types["quant.q4_k"], (GgmlType::Q4K, values / 256 * 144));
    assert_eq!(types["quant.q6_k"], (GgmlType::Q6K, values / 256 * 210));
    for t in f.tensors() {
        assert_eq!(t.shape(), [3, 512], "{}", t.name);
        assert_eq!(t.dims, [512, 3], "{}: stored fastest first", t.name);
    }
}

#[test]
fn every_supported_type_dequantizes_bit_for_bit_as_the_gguf_package() {
    let f = GgufFile::open(&fixture()).unwrap();
    let text = std::fs::read_to_string(fixture().with_file_name("blocks.reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tensors = reference["f32_bits"].as_object().unwrap();
    assert_eq!(tensors.len(), 7, "F32, F16, BF16, Q5_0, Q8_0, Q4_K, Q6_K");
    for (name, bits) in tensors {
        let want: Vec<u32> = bits
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u32)
            .collect();
        let got: Vec<u32> = f
            .dequantize(name)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(got.len(), want.len(), "{name}");
        let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            differ,
            0,
            "{name}: {differ} of {} values differ",
            want.len()
        );
    }
}

#[test]
fn an_unsupported_type_is_refused_by_name() {
    let f = GgufFile::open(&fixture()).unwrap();
    let err = f.dequantize("quant.q4_0").unwrap_err();
    assert_eq!(
        err,
        GgufError::Unsupported {
            tensor: "quant.q4_0".to_string(),
            ty: "Q4_0"
        }
    );
    assert!(err.to_string().contains("Q4_0"), "{err}");
    assert_eq!(
        f.dequantize("nope").unwrap_err(),
        GgufError::MissingTensor("nope".to_string())
    );
}

#[test]
fn a_truncated_file_names_the_tensor_whose_data_is_cut() {
    let bytes = std::fs::read(fixture()).unwrap();
    let err = open_bytes(&bytes[..bytes.len() - 100]).unwrap_err();
    match &err {
        GgufError::Truncated { what, .. } => assert!(what.contains("quant.q4_0"), "{err}"),
        other => panic!("expected Truncated, got {other}"),
    }
    // Cut inside the metadata: the key being read is named.
    let err = open_bytes(&bytes[..60]).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
}

#[test]
fn a_wrong_magic_version_or_count_is_refused() {
    let mut bytes = std::fs::read(fixture()).unwrap();
    assert!(matches!(
        open_bytes(b"GGML\x03\0\0\0").unwrap_err(),
        GgufError::NotGguf { .. }
    ));
    bytes[4] = 1;
    assert_eq!(open_bytes(&bytes).unwrap_err(), GgufError::Version(1));
    bytes[4] = 3;
    // A tensor count no file of this size could hold is refused before allocating.
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = open_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("tensor count"), "{err}");
}
