//! The device's exp, recip, rsqrt, sigmoid and SiLU against `fak_ops::math`, bit for bit.

use fak_backends::{Backend, MathFn};

use crate::common::{Rng, assert_same_bits, bits, vulkan};

#[test]
fn math_functions_match_the_cpu_on_arbitrary_bit_patterns_and_ranges() {
    let Some(device) = vulkan() else { return };
    let mut rng = Rng::new(7);
    let mut x = rng.bit_patterns(1 << 16);
    x.extend(rng.values(1 << 14, 100.0));
    x.extend(rng.values(1 << 14, 1.0));
    x.extend(rng.values_with_edges(1 << 12, 90.0, 4));
    // The boundaries of exp's range, of rounding k, and of the normal range.
    x.extend([
        89.0,
        89.000_01,
        -88.0,
        -88.000_01,
        0.5,
        -0.5,
        1.5,
        0.346_573_6,
        -87.336_55,
        f32::MIN_POSITIVE,
        f32::MAX,
        -f32::MAX,
        1.0,
        2.0,
        4.0,
        0.25,
    ]);
    let input = device.upload(&x).unwrap();
    let mut out = device.zeros(x.len()).unwrap();
    for f in MathFn::ALL {
        device.map_math(f, &input, &mut out).unwrap();
        let got = device.download(&out).unwrap();
        let reference: Vec<f32> = x.iter().map(|&v| f.reference()(v)).collect();
        assert_same_bits(&format!("{f:?}"), &bits(&reference), &bits(&got));
    }
}
