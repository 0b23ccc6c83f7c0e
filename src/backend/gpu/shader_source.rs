//! WGSL sources of every kernel, with `//!include <path>` lines resolved. Shared by the crate
//! (sources embedded with `include_str!`) and by `build.rs` (sources read from disk and validated
//! with naga, so that a broken shader fails the build).

/// Replaces each `//!include <path>` line of `source` by the included file (each file at most
/// once), reading files with `read`. Errors name the missing file.
pub fn compose(source: &str, read: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    compose_into(source, read, &mut seen, &mut out)?;
    Ok(out)
}

fn compose_into(
    source: &str,
    read: &dyn Fn(&str) -> Option<String>,
    seen: &mut Vec<String>,
    out: &mut String,
) -> Result<(), String> {
    for line in source.lines() {
        if let Some(path) = line.trim().strip_prefix("//!include ") {
            let path = path.trim();
            if seen.iter().any(|s| s == path) {
                continue;
            }
            seen.push(path.to_string());
            let text =
                read(path).ok_or_else(|| format!("included file shaders/{path} not found"))?;
            compose_into(&text, read, seen, out)?;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(())
}
