//! The published schemas: `schemas/` and the template's schema registry are what the types generate.
//! `UPDATE_SCHEMAS=1` rewrites what is stale instead of failing (the command: [`REGENERATE`]). That every
//! sample event matches its schema is checked with an independent validator in `tests/tests/schemas.rs`.

use std::path::{Path, PathBuf};

use fleet::domain::schemas::{with_template_section, DetailSchema, REGENERATE};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn updating() -> bool {
    std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1")
}

#[test]
fn schemas_in_the_repository_and_the_templates_registry_are_current() {
    let root = repo_root();
    let mut wanted: Vec<(PathBuf, String)> = DetailSchema::all()
        .iter()
        .map(|s| (root.join(s.path()), s.file_text().unwrap_or_else(|| panic!("no schema for {s:?}"))))
        .collect();
    let template = root.join("infra/template.yaml");
    let current_template = read(&template);
    let generated = with_template_section(&current_template).unwrap_or_else(|e| panic!("{}: {e}", template.display()));
    wanted.push((template, generated));

    let mut stale = Vec::new();
    for (path, text) in &wanted {
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.clone());
        }
    }
    // A file for a detail-type that no longer exists is stale too.
    for folder in ["schemas/requests", "schemas/outcomes"] {
        for entry in std::fs::read_dir(root.join(folder)).into_iter().flatten().flatten() {
            if !wanted.iter().any(|(path, _)| *path == entry.path()) {
                stale.push(entry.path());
            }
        }
    }
    if updating() {
        for path in &stale {
            match wanted.iter().find(|(p, _)| p == path) {
                Some((_, text)) => {
                    std::fs::create_dir_all(path.parent().expect("a folder")).expect("schemas folder");
                    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
                }
                None => std::fs::remove_file(path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display())),
            }
            eprintln!("updated {}", path.display());
        }
        return;
    }
    let names: Vec<_> = stale.iter().map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string()).collect();
    assert!(
        names.is_empty(),
        "stale (not what the types generate): {}; regenerate with `{REGENERATE}`",
        names.join(", ")
    );
}
