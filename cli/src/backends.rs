//! `fak backends`: which backends this build carries and which devices this machine has.

use anyhow::Result;
use fak_backends::{BackendError, BackendKind, DeviceInfo, probe};
use serde_json::{Value, json};

use crate::exit::{self, Status};

/// List the compiled-in backends and the devices each finds, with their limits; a
/// backend without a device says why.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub struct Args {
    /// Print the list as a JSON array, one object per backend.
    #[arg(long)]
    json: bool,
}

/// One backend family as found: not compiled in, compiled with no device (and why), or
/// its devices.
struct Found {
    kind: BackendKind,
    devices: Result<Vec<DeviceInfo>, BackendError>,
}

pub fn run(args: Args) -> Result<Status> {
    let found: Vec<Found> = BackendKind::ALL
        .into_iter()
        .map(|kind| Found {
            kind,
            devices: probe(kind),
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&found))?);
    } else {
        print!("{}", to_text(&found));
    }
    Ok(Status::Ok)
}

fn to_text(found: &[Found]) -> String {
    let mut out = String::new();
    for f in found {
        let name = f.kind.name();
        match &f.devices {
            _ if !f.kind.is_compiled() => out.push_str(&format!(
                "{name:<7} not compiled in (build with `--features {name}`)\n"
            )),
            Ok(devices) => {
                out.push_str(&format!("{name:<7} {} device(s)\n", devices.len()));
                for d in devices {
                    out.push_str(&format!(
                        "  [{}] {} | driver: {} | {}\n",
                        d.index, d.name, d.driver, d.limits
                    ));
                }
            }
            Err(why) => out.push_str(&format!("{name:<7} no device: {why}\n")),
        }
    }
    out
}

fn to_json(found: &[Found]) -> Value {
    Value::Array(
        found
            .iter()
            .map(|f| {
                let (devices, error) = match &f.devices {
                    Ok(devices) => (devices.iter().map(device_json).collect(), Value::Null),
                    Err(why) => (Vec::new(), Value::String(why.to_string())),
                };
                json!({
                    "backend": f.kind.name(),
                    "compiled": f.kind.is_compiled(),
                    "devices": devices,
                    "error": error,
                })
            })
            .collect(),
    )
}

fn device_json(d: &DeviceInfo) -> Value {
    let l = &d.limits;
    json!({
        "index": d.index,
        "name": d.name,
        "driver": d.driver,
        "threads": l.threads,
        "max_workgroup_invocations": l.max_workgroup_invocations,
        "max_shared_memory_bytes": l.max_shared_memory_bytes,
        "max_buffer_bytes": l.max_buffer_bytes,
        "memory_bytes": l.memory_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Vec<Found> {
        BackendKind::ALL
            .into_iter()
            .map(|kind| Found {
                kind,
                devices: probe(kind),
            })
            .collect()
    }

    #[test]
    fn every_backend_gets_one_line_and_cpu_lists_its_device() {
        let text = to_text(&found());
        for kind in BackendKind::ALL {
            let line = text
                .lines()
                .find(|l| l.starts_with(kind.name()))
                .unwrap_or_else(|| panic!("no line for {kind}:\n{text}"));
            if !kind.is_compiled() {
                assert!(line.contains("not compiled in"), "{line}");
            }
        }
        assert!(text.contains("threads="), "{text}");
    }

    #[test]
    fn json_names_every_backend_and_explains_a_missing_device() {
        let value = to_json(&found());
        let entries = value.as_array().unwrap();
        assert_eq!(entries.len(), BackendKind::ALL.len());
        for entry in entries {
            let has_devices = !entry["devices"].as_array().unwrap().is_empty();
            // Exactly one of: devices found, or an error saying why not.
            assert_ne!(has_devices, entry["error"].is_string(), "{entry}");
        }
        assert_eq!(entries[0]["backend"], "cpu");
        assert!(entries[0]["devices"][0]["threads"].as_u64().unwrap() >= 1);
    }
}
