//! `cargo xtask export-series`: the patches for people who apply them to their own tree.
//!
//! The series is made the way a maintainer would: in a git tree of the pristine source, the C
//! wiring patches are applied with `git am`, then the new files (overlay and generated code) are
//! committed one C/R subsystem at a time, and `git format-patch` writes them out. New kernel-crate
//! abstractions are folded into the patch that declares their modules, so every step builds.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::build_kernel::{self, TARBALL};
use crate::util::{project_root, target_dir, Phase};

/// New-file groups, in series order: a subject, a body, and the path prefixes it takes.
/// `None` as subject folds the group into the wiring patch that touches `rust/kernel/lib.rs`.
const GROUPS: &[(Option<&str>, &str, &[&str])] = &[
    (
        None,
        "",
        &[
            "rust/kernel/",
            "rust/helpers/",
            "include/linux/checkpoint.h",
        ],
    ),
    (
        Some("checkpoint: add the image format"),
        "The image is a stream of 8-byte aligned records described by one schema,\n\
         from which the codec below, the uapi header and the ABI hash are\n\
         generated. Readers accept shorter and longer records, so fields are only\n\
         ever appended. The stream ends with a tail carrying its length and an\n\
         XXH64 checksum.",
        &["include/uapi/linux/checkpoint.h", "kernel/checkpoint/abi/"],
    ),
    (
        Some("checkpoint: checkpoint a process tree from outside, restart it in the kernel"),
        "checkpoint(2) freezes a tree of processes and their threads at the user-mode\n\
         boundary and streams each thread's registers, xstate and signal state and\n\
         each process's memory, files, fs and handlers; restart(2) creates every\n\
         process and thread again with its saved pid, lets each rebuild itself from\n\
         the stream, then links parents, process groups and sessions before any of\n\
         them returns to user mode. The tree under a pid namespace's init is a\n\
         container: it is refused while an object of it is held from outside (leak\n\
         detection) and restarted in a new pid namespace. Progress and\n\
         failures go to the caller's log descriptor; the ABI hash and the schema are\n\
         in sysfs.",
        &["kernel/checkpoint/"],
    ),
    (
        Some("Documentation: checkpoint: describe checkpoint/restart"),
        "How to use the system calls, the image format and its compatibility rules.",
        &["Documentation/"],
    ),
];

#[derive(clap::Args)]
pub struct Args {
    /// Check that the series produces exactly the tree `build-kernel` builds and tests (CI's
    /// bounded form of `--build`).
    #[arg(long)]
    verify: bool,
    /// Also build the patched tree (tinyconfig + base + checkpoint) to prove the series builds.
    #[arg(long)]
    build: bool,
}

pub fn run(sh: &Shell, args: &Args) -> Result<()> {
    let p = Phase::start("export series");
    let work = target_dir().join("series-work");
    let out = target_dir().join("series");
    for d in [&work, &out] {
        if d.exists() {
            fs::remove_dir_all(d)?;
        }
    }
    fs::create_dir_all(&work)?;
    cmd!(sh, "tar -C {work} -xf {TARBALL}").run()?;
    let tree = work.join("linux-source-6.12");
    let _d = sh.push_dir(&tree);
    let git = |args: &[&str]| -> Result<()> {
        cmd!(
            sh,
            "git -c user.name=linux-cr-rs -c user.email=linux-cr-rs@localhost {args...}"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
        Ok(())
    };
    git(&["init", "-q"])?;
    // Debian's tree ignores its top level; -f adds it anyway.
    git(&["add", "-f", "-A", "."])?;
    git(&["commit", "-q", "-m", "linux-source-6.12 (Debian)"])?;
    let base = cmd!(sh, "git rev-parse HEAD").read()?;

    let patches = project_root().join("linux-patches");
    let series = fs::read_to_string(patches.join("series"))?;
    let names: Vec<&str> = series
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for name in &names {
        let path = patches.join(name);
        cmd!(
            sh,
            "git -c user.name=linux-cr-rs -c user.email=linux-cr-rs@localhost am -q {path}"
        )
        .run()
        .with_context(|| format!("git am {name}"))?;
    }

    // The overlay and the generated files, as a scratch copy to take groups from.
    let staged = work.join("new-files");
    build_kernel::prepare_new_files(&staged)?;
    let mut files = Vec::new();
    collect(&staged, &staged, &mut files)?;
    for (subject, body, prefixes) in GROUPS {
        let taken: Vec<String> = files
            .iter()
            .filter(|f| prefixes.iter().any(|p| f.starts_with(p)))
            .cloned()
            .collect();
        files.retain(|f| !taken.contains(f));
        if taken.is_empty() {
            continue;
        }
        for f in &taken {
            let dst = tree.join(f);
            fs::create_dir_all(dst.parent().unwrap())?;
            fs::copy(staged.join(f), &dst)?;
        }
        git(&[
            &["add", "-f", "--"][..],
            &taken.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat())?;
        match subject {
            Some(subject) => git(&["commit", "-q", "-m", subject, "-m", body])?,
            None => fold_into_lib_rs_patch(sh, &base)?,
        }
    }
    if !files.is_empty() {
        bail!("new files that no patch group takes (add them to GROUPS in series.rs): {files:?}");
    }
    fs::create_dir_all(&out)?;
    let range = format!("{base}..HEAD");
    cmd!(
        sh,
        "git format-patch -q --no-signature --zero-commit -o {out} {range}"
    )
    .run()?;
    println!("{}", out.display());
    eprintln!(
        "apply with: tar xf {TARBALL} && cd linux-source-6.12 && git init -q && git add -f -A . \
         && git commit -qm base && git am {}/*.patch",
        out.display()
    );
    drop(p);
    if args.verify {
        same_as_tested(sh, &tree)?;
    }
    if args.build {
        // Build the tree the series produced, from the exported patches' own result.
        let fragments =
            ["base", "checkpoint"].map(|n| project_root().join(format!("configs/{n}.config")));
        let build = work.join("build");
        build_kernel::configure(sh, &tree, &build, &fragments)?;
        build_kernel::make(sh, &tree, &build)?;
        eprintln!("[xtask] the exported series builds");
    }
    Ok(())
}

/// Compares the tree the series produced with the one `build-kernel` assembles from the same
/// patches and overlay (`patch` and copies instead of `git am` and commits): if they are the
/// same file for file, what the guest tests run is what the series posts.
fn same_as_tested(sh: &Shell, tree: &Path) -> Result<()> {
    let _p = Phase::start("compare the series' tree with the tested one");
    let src = build_kernel::source_dir();
    build_kernel::prepare_source(sh, &src)?;
    let out = cmd!(sh, "diff -r -q --no-dereference -x .git {tree} {src}")
        .ignore_status()
        .quiet()
        .output()?;
    if !out.status.success() {
        bail!(
            "the series does not produce the tree the tests build:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("[xtask] the exported series produces the tested tree");
    Ok(())
}

/// Amends the staged files into the wiring commit that declares the kernel-crate modules.
fn fold_into_lib_rs_patch(sh: &Shell, base: &str) -> Result<()> {
    let range = format!("{base}..HEAD");
    let target = cmd!(sh, "git log --format=%H {range} -- rust/kernel/lib.rs").read()?;
    let Some(target) = target.lines().next() else {
        bail!("no wiring patch touches rust/kernel/lib.rs to fold the abstractions into");
    };
    let fixup = format!("--fixup={target}");
    let env = [("GIT_SEQUENCE_EDITOR", "true")];
    cmd!(
        sh,
        "git -c user.name=linux-cr-rs -c user.email=linux-cr-rs@localhost commit -q {fixup}"
    )
    .quiet()
    .run()?;
    cmd!(sh, "git -c user.name=linux-cr-rs -c user.email=linux-cr-rs@localhost rebase -q -i --autosquash {base}")
        .envs(env)
        .quiet()
        .run()?;
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root)?.to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(())
}
