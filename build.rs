//! Validates every WGSL kernel in `shaders/` with naga, so that a broken shader fails the build.

#[path = "src/backend/gpu/shader_source.rs"]
mod shader_source;

use std::path::Path;

fn main() {
    let dir = Path::new("shaders");
    println!("cargo:rerun-if-changed=shaders");
    println!("cargo:rerun-if-changed=src/backend/gpu/shader_source.rs");
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).ok();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("shaders/ directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let source = std::fs::read_to_string(&path).expect("readable shader");
        let composed = match shader_source::compose(&source, &read) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let module = match naga::front::wgsl::parse_str(&composed) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!(
                    "{}:\n{}",
                    path.display(),
                    e.emit_to_string(&composed)
                ));
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        );
        if let Err(e) = validator.validate(&module) {
            failures.push(format!(
                "{}:\n{}",
                path.display(),
                e.emit_to_string(&composed)
            ));
        }
    }
    if !failures.is_empty() {
        panic!("invalid WGSL shaders:\n{}", failures.join("\n"));
    }
}
