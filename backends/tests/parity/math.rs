//! The device's exp, recip, rsqrt, sigmoid and SiLU against `fak_ops::math`, bit for bit.

use fak_backends::MathFn;
use fak_backends::parity::MathCase;

use crate::common::{assert_same_bits, vulkan};

#[test]
fn math_functions_match_the_cpu_on_arbitrary_bit_patterns_and_ranges() {
    let Some(device) = vulkan() else { return };
    for f in MathFn::ALL {
        let case = MathCase::sweep(f);
        assert_same_bits(
            &format!("{f:?}"),
            &case.reference(),
            &case.run_on(device).unwrap(),
        );
    }
}
