//! Paths, timing and small file helpers shared by the commands.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use xshell::Shell;

/// The repository root (the workspace of this xtask).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A shell rooted at the project.
pub fn shell() -> Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// `target/` of the workspace.
pub fn target_dir() -> PathBuf {
    project_root().join("target")
}

/// A build phase whose elapsed time is printed when it ends.
pub struct Phase {
    name: String,
    start: Instant,
}

impl Phase {
    pub fn start(name: impl Into<String>) -> Phase {
        let name = name.into();
        eprintln!("[xtask] {name} ...");
        Phase {
            name,
            start: Instant::now(),
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        eprintln!(
            "[xtask] {} done in {:.1}s",
            self.name,
            self.start.elapsed().as_secs_f64()
        );
    }
}

/// Writes `contents` to `path` only when it differs, so make sees no change otherwise.
/// Returns whether the file was written.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(contents) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}
