//! The names of the places an op can run.

use std::fmt;
use std::str::FromStr;

use crate::BackendError;

/// A backend family, as named on the command line (`--backend cpu|vulkan|metal|cuda`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// The pure-Rust reference in `fak-ops`; always compiled in.
    Cpu,
    /// CubeCL's wgpu runtime on Vulkan, kernels compiled to SPIR-V.
    Vulkan,
    /// CubeCL's wgpu runtime on Metal, kernels compiled to MSL.
    Metal,
    /// CubeCL's CUDA runtime, kernels compiled by NVRTC.
    Cuda,
}

impl BackendKind {
    /// Every backend family, compiled in or not, in a stable order.
    pub const ALL: [BackendKind; 4] = [Self::Cpu, Self::Vulkan, Self::Metal, Self::Cuda];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Vulkan => "vulkan",
            Self::Metal => "metal",
            Self::Cuda => "cuda",
        }
    }

    /// Whether this build carries the backend (its cargo feature was on).
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Cpu => true,
            Self::Vulkan => cfg!(feature = "vulkan"),
            Self::Metal => cfg!(feature = "metal"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The families this build carries.
    pub fn compiled() -> Vec<BackendKind> {
        Self::ALL.into_iter().filter(|k| k.is_compiled()).collect()
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| BackendError::UnknownName { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
        }
        assert_eq!(" CUDA ".parse::<BackendKind>().unwrap(), BackendKind::Cuda);
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_choices() {
        let err = "opencl".parse::<BackendKind>().unwrap_err().to_string();
        assert!(err.contains("\"opencl\""), "{err}");
        assert!(err.contains("cpu, vulkan, metal, cuda"), "{err}");
    }

    #[test]
    fn cpu_is_always_compiled_in() {
        assert!(BackendKind::compiled().contains(&BackendKind::Cpu));
    }
}
