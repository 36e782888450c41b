//! `cargo xtask build-kernel`: extract, patch, overlay, generate, configure and build.
//!
//! Every step is skipped when its inputs did not change, and files are only rewritten when their
//! contents differ, so a change to one Rust file of the C/R crate rebuilds just that crate.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::util::{project_root, target_dir, write_if_changed, Phase};

/// Debian's kernel source package.
pub const TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
/// Fragments merged onto tinyconfig when none are given.
pub const DEFAULT_CONFIGS: &[&str] = &["base", "checkpoint", "debug"];

#[derive(clap::Args)]
pub struct Args {
    /// Kconfig fragment (a name in configs/ or a path), repeatable; default: base checkpoint debug.
    #[arg(long = "config", value_name = "FRAGMENT")]
    configs: Vec<String>,
}

/// The kernel source tree: the pristine tarball plus `linux-patches/`, the overlay and the
/// generated files.
pub fn source_dir() -> PathBuf {
    target_dir().join("linux/src")
}

/// Builds the kernel with the default fragments if anything is stale; returns the bzImage.
pub fn ensure_built(sh: &Shell) -> Result<PathBuf> {
    run(
        sh,
        &Args {
            configs: Vec::new(),
        },
    )
}

pub fn run(sh: &Shell, args: &Args) -> Result<PathBuf> {
    build(sh, &args.configs, "bzImage")
}

/// Builds the kernel with the fragments `configs` (the defaults if empty) in its own build
/// directory, and copies its image to `target/kernel/<name>`, which it returns.
pub fn build(sh: &Shell, configs: &[String], name: &str) -> Result<PathBuf> {
    let fragments = resolve_fragments(configs)?;
    let src = source_dir();
    prepare_source(sh, &src)?;
    let build = build_dir(configs)?;
    configure(sh, &src, &build, &fragments)?;
    let image = make(sh, &src, &build)?;
    let out = target_dir().join("kernel").join(name);
    fs::create_dir_all(out.parent().unwrap())?;
    fs::copy(&image, &out).with_context(|| format!("copying {}", image.display()))?;
    println!("{}", out.display());
    Ok(out)
}

/// The build directory of the kernel with the fragments `configs` (the defaults if empty).
pub fn build_dir(configs: &[String]) -> Result<PathBuf> {
    let flavor: Vec<String> = resolve_fragments(configs)?
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    Ok(target_dir().join(format!("linux/build-{}", flavor.join("-"))))
}

/// Extracts the tarball, applies the series and adds the overlay and the generated files.
pub fn prepare_source(sh: &Shell, src: &Path) -> Result<()> {
    extract_and_patch(sh, src)?;
    overlay(src)
}

fn resolve_fragments(names: &[String]) -> Result<Vec<PathBuf>> {
    let names: Vec<String> = if names.is_empty() {
        DEFAULT_CONFIGS.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|n| {
            let by_name = project_root().join("configs").join(format!("{n}.config"));
            let path = if by_name.exists() {
                by_name
            } else {
                PathBuf::from(n)
            };
            if !path.exists() {
                bail!("no config fragment {n} (looked for {})", path.display());
            }
            Ok(path)
        })
        .collect()
}

/// What the tree was made from; a change means a fresh extraction.
fn source_stamp(patches: &[(String, String)]) -> Result<String> {
    let meta = fs::metadata(TARBALL).with_context(|| {
        format!("{TARBALL} is missing: run `cargo xtask setup` (Debian package linux-source-6.12)")
    })?;
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let mut stamp = format!("tarball {} {}\n", meta.len(), mtime);
    for (name, text) in patches {
        stamp += &format!("patch {name} {:016x}\n", fnv1a(text.as_bytes()));
    }
    Ok(stamp)
}

fn read_series() -> Result<Vec<(String, String)>> {
    let dir = project_root().join("linux-patches");
    let series = fs::read_to_string(dir.join("series")).context("reading linux-patches/series")?;
    series
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|name| {
            let text = fs::read_to_string(dir.join(name))
                .with_context(|| format!("reading linux-patches/{name}"))?;
            Ok((name.to_string(), text))
        })
        .collect()
}

/// Paths a patch modifies (from its `+++ b/` lines).
fn patched_files(patch: &str) -> impl Iterator<Item = &str> {
    patch.lines().filter_map(|l| l.strip_prefix("+++ b/"))
}

fn extract_and_patch(sh: &Shell, src: &Path) -> Result<()> {
    let patches = read_series()?;
    let stamp = source_stamp(&patches)?;
    let stamp_path = src.with_file_name("src.stamp");
    let old = fs::read_to_string(&stamp_path).unwrap_or_default();
    if old == stamp && src.is_dir() {
        return Ok(());
    }
    // Files the previous series touched: after a fresh extraction they get the tarball's old
    // mtime back, so touch them or make would keep objects built from the patched version.
    let previously_patched: BTreeSet<String> =
        fs::read_to_string(src.with_file_name("src.touched"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
    {
        let _p = Phase::start("extract linux-source-6.12");
        let parent = src.parent().unwrap();
        if src.exists() {
            fs::remove_dir_all(src)?;
        }
        fs::create_dir_all(parent)?;
        let tmp = parent.join("extract.tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        cmd!(sh, "tar -C {tmp} -xf {TARBALL}").run()?;
        let top = fs::read_dir(&tmp)?
            .next()
            .context("empty kernel tarball")??
            .path();
        fs::rename(&top, src)?;
        fs::remove_dir(&tmp)?;
    }
    let _p = Phase::start(format!("apply {} patches", patches.len()));
    let mut touched = previously_patched;
    for (name, text) in &patches {
        let path = project_root().join("linux-patches").join(name);
        let _d = sh.push_dir(src);
        let out = cmd!(
            sh,
            "patch -p1 --forward --batch --no-backup-if-mismatch -i {path}"
        )
        .ignore_status()
        .output()?;
        if !out.status.success() {
            let mut msg = format!(
                "patch {name} does not apply:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            for f in patched_files(text) {
                if let Ok(rej) = fs::read_to_string(src.join(format!("{f}.rej"))) {
                    msg += &format!("rejected hunk in {f}:\n{rej}");
                }
            }
            // Leave no half-patched tree behind: the next run extracts again.
            let _ = fs::remove_file(&stamp_path);
            bail!(msg);
        }
        touched.extend(patched_files(text).map(String::from));
    }
    for f in &touched {
        let p = src.join(f);
        if p.exists() {
            fs::File::options()
                .append(true)
                .open(&p)?
                .set_modified(std::time::SystemTime::now())?;
        }
    }
    let touched: Vec<&str> = touched.iter().map(String::as_str).collect();
    fs::write(src.with_file_name("src.touched"), touched.join("\n"))?;
    fs::write(&stamp_path, stamp)?;
    Ok(())
}

/// The files this project adds to the kernel tree: `rust/linux/` and the code generated from
/// the schema (the kernel's codec module and the uapi header), as (relative path, contents).
pub fn new_files() -> Result<Vec<(String, Vec<u8>)>> {
    let root = project_root().join("rust/linux");
    let mut paths = Vec::new();
    walk(&root, &mut paths)?;
    let mut files = Vec::new();
    for p in paths {
        files.push((
            p.strip_prefix(&root)?.to_string_lossy().into_owned(),
            fs::read(&p)?,
        ));
    }
    let generated = cr_codegen::kernel_files(&project_root())
        .map_err(|e| anyhow::anyhow!("code generator: {e}"))?;
    for (rel, text) in generated {
        files.push((rel.to_string_lossy().into_owned(), text.into_bytes()));
    }
    files.sort();
    Ok(files)
}

/// Writes [`new_files`] under `dir` (for the series export).
pub fn prepare_new_files(dir: &Path) -> Result<()> {
    for (rel, data) in new_files()? {
        write_if_changed(&dir.join(rel), &data)?;
    }
    Ok(())
}

/// Puts [`new_files`] into the tree; files no longer produced are removed from it.
fn overlay(src: &Path) -> Result<()> {
    let manifest_path = src.with_file_name("overlay.manifest");
    let old: BTreeSet<String> = fs::read_to_string(&manifest_path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    let mut new = BTreeSet::new();
    for (rel, data) in new_files()? {
        write_if_changed(&src.join(&rel), &data)?;
        new.insert(rel);
    }
    for gone in old.difference(&new) {
        let _ = fs::remove_file(src.join(gone));
    }
    fs::write(
        &manifest_path,
        new.into_iter().collect::<Vec<_>>().join("\n"),
    )?;
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

pub fn configure(sh: &Shell, src: &Path, build: &Path, fragments: &[PathBuf]) -> Result<()> {
    let mut wanted = String::new();
    for f in fragments {
        wanted += &fs::read_to_string(f)?;
        wanted.push('\n');
    }
    let stamp_path = build.join(".config.fragments");
    let config = build.join(".config");
    if config.exists() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(&wanted) {
        return Ok(());
    }
    let _p = Phase::start("configure (tinyconfig + fragments)");
    fs::create_dir_all(build)?;
    let _d = sh.push_dir(src);
    let o = format!("O={}", build.display());
    cmd!(sh, "make {o} LLVM=1 tinyconfig")
        .quiet()
        .ignore_stdout()
        .run()?;
    let mut text = fs::read_to_string(&config)?;
    text += &wanted;
    fs::write(&config, text)?;
    // Fragments override tinyconfig on purpose: keep the "reassigning" noise out of the way.
    let out = cmd!(sh, "make {o} LLVM=1 olddefconfig")
        .quiet()
        .ignore_status()
        .output()?;
    if !out.status.success() {
        bail!(
            "make olddefconfig failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check_config(&fs::read_to_string(&config)?, &wanted)?;
    fs::write(&stamp_path, wanted)?;
    Ok(())
}

/// Fails with the option's name when a requested setting did not survive `olddefconfig`.
fn check_config(config: &str, wanted: &str) -> Result<()> {
    let mut lost = Vec::new();
    for line in wanted.lines().map(str::trim) {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if line.starts_with('#') {
            continue;
        }
        let ok = if value == "n" {
            !config.lines().any(|l| l.starts_with(&format!("{name}=")))
        } else {
            config.lines().any(|l| l == line)
        };
        if !ok {
            lost.push(line.to_string());
        }
    }
    if !lost.is_empty() {
        bail!(
            "these options did not survive olddefconfig (a dependency is missing or the \
             toolchain check failed, e.g. RUST needs rustc, bindgen and rust-src): {}",
            lost.join(", ")
        );
    }
    Ok(())
}

pub fn make(sh: &Shell, src: &Path, build: &Path) -> Result<PathBuf> {
    let _p = Phase::start("make bzImage");
    let log = build.join("make.log");
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let o = format!("O={}", build.display());
    let _d = sh.push_dir(src);
    let out = cmd!(sh, "make {o} LLVM=1 {jobs} bzImage")
        .quiet()
        .ignore_status()
        .output()?;
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    fs::write(&log, &text)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&text);
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("error") || l.contains("Error"))
            .take(40)
            .collect();
        bail!(
            "kernel build failed (full log: {}):\n{}",
            log.display(),
            errors.join("\n")
        );
    }
    Ok(build.join("arch/x86/boot/bzImage"))
}

/// FNV-1a: a cheap content fingerprint for stamps (not a security boundary).
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_options_are_named() {
        let config = "CONFIG_A=y\n# CONFIG_B is not set\n";
        assert!(check_config(config, "CONFIG_A=y\nCONFIG_B=n\n").is_ok());
        let err = check_config(config, "CONFIG_A=y\nCONFIG_B=y\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFIG_B=y"), "{err}");
    }
}
