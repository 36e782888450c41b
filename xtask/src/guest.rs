//! The guest's own programs: `cr` and the test programs of `cr-tests`, built static so that the
//! initramfs needs no libc; and one dynamically linked C program, the target of
//! `restore_dynamic`, shipped with the loader and libraries it needs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::util::{project_root, target_dir, Phase};

/// The guest triple; glibc's static libraries come with Debian's libc6-dev.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Programs that go to the guest's `/bin`; every other `cr-tests` binary goes to `/tests`.
/// `counter` is the demo's program (`qemu/demo.sh`), `memhog` and `cr-bench` are
/// `cargo xtask bench`'s; none is a test.
const IN_BIN: &[&str] = &["cr", "cr-harness", "counter", "memhog", "cr-bench"];

/// The dynamically linked checkpoint target: its C source, and where the guest has it.
const DYNAMIC_SRC: &str = "tests/c/dynamic_target.c";
const DYNAMIC_GUEST: &str = "/usr/libexec/cr-tests/dynamic_target";

/// Paths of the built guest programs on the host.
#[derive(Debug, Clone)]
pub struct GuestBins {
    /// `cr` and `cr-harness`.
    pub bin: Vec<PathBuf>,
    /// The test programs, one per behaviour.
    pub tests: Vec<PathBuf>,
    /// Other files, as (host path, absolute guest path): the dynamically linked target and the
    /// loader and libraries it needs, at the paths it finds them at on the host.
    pub files: Vec<(PathBuf, String)>,
}

/// Builds `cr` and `cr-tests` static, in `target/guest` so that the host build's cache (built
/// without `+crt-static`) stays valid.
pub fn build(sh: &Shell) -> Result<GuestBins> {
    let _phase = Phase::start("guest programs");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = target_dir().join("guest");
    let out = cmd!(
        sh,
        "{cargo} build --release -p cr -p cr-tests --target {TRIPLE}
            --message-format=json-render-diagnostics"
    )
    .env("RUSTFLAGS", "-C target-feature=+crt-static")
    .env("CARGO_TARGET_DIR", &target)
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .read()
    .context("building the guest programs (cargo build -p cr -p cr-tests)")?;
    let mut bins = from_messages(&out);
    bins.files = dynamic_target(sh, &target)?;
    for name in IN_BIN {
        if !bins
            .bin
            .iter()
            .any(|p| p.file_name().is_some_and(|f| f == *name))
        {
            bail!("the guest build made no `{name}` binary");
        }
    }
    Ok(bins)
}

/// Builds `tests/c/dynamic_target.c` with the C compiler cargo links with, dynamically linked;
/// returns it and the libraries `ldd` says it loads.
fn dynamic_target(sh: &Shell, target: &Path) -> Result<Vec<(PathBuf, String)>> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let src = project_root().join(DYNAMIC_SRC);
    let out = target.join("dynamic_target");
    cmd!(sh, "{cc} -O2 -Wall -Wextra -Werror -o {out} {src}")
        .quiet()
        .run()
        .with_context(|| format!("compiling {DYNAMIC_SRC} with {cc}"))?;
    with_libraries(sh, &out, DYNAMIC_GUEST)
}

/// A dynamically linked host program for the guest at `guest`, with the loader and the
/// libraries `ldd` says it loads, each at its host path.
pub fn with_libraries(sh: &Shell, exe: &Path, guest: &str) -> Result<Vec<(PathBuf, String)>> {
    let ldd = cmd!(sh, "ldd {exe}").quiet().read()?;
    let libs = libraries(&ldd);
    if !libs.iter().any(|l| l.contains("libc.so")) {
        bail!("ldd found no libc for {}:\n{ldd}", exe.display());
    }
    let mut files = vec![(exe.to_path_buf(), guest.to_string())];
    files.extend(libs.into_iter().map(|l| (PathBuf::from(&l), l)));
    Ok(files)
}

/// The absolute paths of the libraries in `ldd` output, the loader included; the vdso has no
/// file.
fn libraries(ldd: &str) -> Vec<String> {
    let mut libs = Vec::new();
    for line in ldd.lines() {
        let path = match line.split_once("=>") {
            Some((_, found)) => found.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            libs.push(path.to_string());
        }
    }
    libs
}

/// Sorts the executables cargo reports (one JSON message a line) into `/bin` and `/tests`.
/// Only `cr-tests`'s binaries are tests, so that a helper binary in `cr` never runs as one.
fn from_messages(json_lines: &str) -> GuestBins {
    let mut bins = GuestBins {
        bin: Vec::new(),
        tests: Vec::new(),
        files: Vec::new(),
    };
    for line in json_lines.lines() {
        let (Some(exe), Some(package)) =
            (str_field(line, "executable"), str_field(line, "package_id"))
        else {
            continue;
        };
        let exe = PathBuf::from(exe);
        let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if IN_BIN.contains(&name) {
            bins.bin.push(exe);
        } else if is_package(package, "cr-tests") {
            bins.tests.push(exe);
        }
    }
    bins.bin.sort();
    bins.tests.sort();
    bins.tests.dedup();
    bins
}

/// Whether a cargo package id names `name`, in the old (`name 0.1.0 (path+file://...)`) or the
/// new (`path+file:///dir#name@0.1.0`) spelling.
fn is_package(id: &str, name: &str) -> bool {
    if let Some((n, _)) = id.split_once(' ') {
        return n == name;
    }
    match id.rsplit_once('#') {
        // `#name@version`, or `#version` when the directory is named after the package.
        Some((path, frag)) => match frag.split_once('@') {
            Some((n, _)) => n == name,
            None => path.rsplit('/').next() == Some(name),
        },
        None => false,
    }
}

/// The value of `"key":"..."` in one line of cargo's JSON. Cargo writes it compactly, and the
/// paths and ids we read hold no escaped characters, so a full JSON parser is not needed.
fn str_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = line.find(&pat)? + pat.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_cargo_messages() {
        let msgs = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/rust/cr#0.1.0","manifest_path":"/w/rust/cr/Cargo.toml","target":{"kind":["bin"],"name":"cr"},"executable":"/w/target/guest/x/release/cr","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/tests#cr-tests@0.1.0","target":{"kind":["lib"],"name":"cr_tests"},"executable":null,"fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/tests#cr-tests@0.1.0","target":{"kind":["bin"],"name":"mm_private_anon"},"executable":"/w/target/guest/x/release/mm_private_anon","fresh":false}
{"reason":"compiler-artifact","package_id":"cr-tests 0.1.0 (path+file:///w/tests)","target":{"kind":["bin"],"name":"cr-harness"},"executable":"/w/target/guest/x/release/cr-harness","fresh":false}
{"reason":"build-finished","success":true}"#;
        let bins = from_messages(msgs);
        assert_eq!(
            bins.bin,
            [
                PathBuf::from("/w/target/guest/x/release/cr"),
                "/w/target/guest/x/release/cr-harness".into()
            ]
        );
        assert_eq!(
            bins.tests,
            [PathBuf::from("/w/target/guest/x/release/mm_private_anon")]
        );
    }

    #[test]
    fn ldd_output() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f58)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f58)\n";
        assert_eq!(
            libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }

    #[test]
    fn package_ids() {
        assert!(is_package(
            "path+file:///w/tests#cr-tests@0.1.0",
            "cr-tests"
        ));
        assert!(is_package(
            "cr-tests 0.1.0 (path+file:///w/tests)",
            "cr-tests"
        ));
        assert!(is_package("path+file:///w/cr-tests#0.1.0", "cr-tests"));
        assert!(!is_package("path+file:///w/rust/cr#0.1.0", "cr-tests"));
    }
}
