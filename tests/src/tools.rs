//! Where the project's scripts install the tools the tests run (pinned, in virtualenvs under the cache).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// The tool at `$override_var`, or else at `relative` under the cache (`NOTEBOOK_FLEET_CACHE`, default
/// `~/.cache/notebook-fleet`). A missing tool is an error that says how to install it, never a skip.
pub fn installed_tool(override_var: &str, relative: &str, install_hint: &str) -> Result<PathBuf> {
    if let Ok(path) = std::env::var(override_var) {
        return Ok(PathBuf::from(path));
    }
    let cache = std::env::var("NOTEBOOK_FLEET_CACHE")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache/notebook-fleet")))
        .context("neither NOTEBOOK_FLEET_CACHE nor HOME is set")?;
    let path = cache.join(relative);
    if !path.exists() {
        bail!("{} not found: {install_hint}, or set {override_var}", path.display());
    }
    Ok(path)
}
