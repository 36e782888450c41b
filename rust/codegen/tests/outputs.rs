//! The generated outputs build where they will be used: the C header under clang for i386 and
//! x86_64, the kernel module tree under rustc with the kernel's lints.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap()
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cr-codegen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn file<'a>(files: &'a [(PathBuf, String)], rel: &str) -> &'a str {
    &files.iter().find(|(p, _)| p == Path::new(rel)).unwrap().1
}

#[test]
fn c_header_has_the_same_layout_on_i386_and_x86_64() {
    let files = cr_codegen::kernel_files(&repo_root()).unwrap();
    let header = file(&files, "include/uapi/linux/checkpoint.h");
    let d = scratch("c");
    std::fs::create_dir_all(d.join("linux")).unwrap();
    // A shim for <linux/types.h> so that no 32-bit libc or kernel headers are needed.
    std::fs::write(
        d.join("linux/types.h"),
        "typedef unsigned char __u8;\ntypedef unsigned short __u16;\n\
         typedef unsigned int __u32;\ntypedef unsigned long long __u64;\n\
         typedef int __s32;\ntypedef long long __s64;\n",
    )
    .unwrap();
    std::fs::write(d.join("checkpoint.h"), header).unwrap();
    std::fs::write(
        d.join("t.c"),
        "#include \"checkpoint.h\"\nint main(void) { return sizeof(struct ckpt_header) == 0; }\n",
    )
    .unwrap();
    for arch in ["-m32", "-m64"] {
        let out = Command::new("clang")
            .args([
                arch,
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-fsyntax-only",
            ])
            .arg("-I")
            .arg(&d)
            .arg(d.join("t.c"))
            .output()
            .unwrap_or_else(|e| {
                panic!("clang is required for this test (apt-get install clang): {e}")
            });
        assert!(
            out.status.success(),
            "clang {arch}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(header.contains("#define __NR_checkpoint 463"));
    assert!(header.contains("#define CKPT_REC_HEADER 1\n"));
    assert!(header.starts_with("/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */"));
}

/// Compiles the kernel's `abi` module tree as the kernel would: a no_std crate in which the
/// module is private, with missing_docs, unreachable_pub and all warnings denied.
#[test]
fn kernel_module_builds_with_kernel_lints() {
    let files = cr_codegen::kernel_files(&repo_root()).unwrap();
    let d = scratch("k");
    for (p, text) in &files {
        if let Ok(rel) = p.strip_prefix("kernel/checkpoint") {
            let dst = d.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::write(dst, text).unwrap();
        }
    }
    std::fs::write(
        d.join("lib.rs"),
        "//! Stand-in for the C/R crate.\n#![no_std]\nmod abi;\n\n\
         /// Uses the module so that it is compiled for real.\n\
         pub fn hash() -> &'static str {\n    abi::ABI_HASH_HEX\n}\n",
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let lints = [
        "-Dwarnings",
        "-Dmissing_docs",
        "-Dunreachable_pub",
        "-Drust_2018_idioms",
        "-Dunsafe_code",
        "-Dnon_ascii_idents",
        "-Dunsafe_op_in_unsafe_fn",
    ];
    // The crate the way kbuild compiles it: rlib, edition 2021, the kernel's lints.
    let compile = |driver: &str, extra: &[&str]| {
        Command::new(driver)
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "rlib",
                "--crate-name",
                "ckpt",
            ])
            .args(lints)
            .args(extra)
            .arg("--out-dir")
            .arg(&d)
            .arg(d.join("lib.rs"))
            .output()
    };
    let out = compile(&rustc, &[]).unwrap();
    assert!(
        out.status.success(),
        "rustc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same under clippy, when it is installed.
    let clippy = compile(
        "clippy-driver",
        &[
            "-Dclippy::all",
            "-Dclippy::undocumented_unsafe_blocks",
            "-Dclippy::float_arithmetic",
        ],
    );
    if let Ok(out) = clippy {
        assert!(
            out.status.success(),
            "clippy-driver: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let m = file(&files, "kernel/checkpoint/abi/mod.rs");
    assert!(m.contains("#![allow(unreachable_pub, dead_code)]"));
    let g = file(&files, "kernel/checkpoint/abi/generated.rs");
    assert!(
        !m.contains("crate::") && !g.contains("crate::"),
        "generated code must not name the crate"
    );
    for shared in cr_codegen::SHARED_MODULES {
        let text = file(&files, &format!("kernel/checkpoint/abi/{shared}.rs"));
        assert!(!text.contains("crate::"), "{shared}.rs names the crate");
        assert!(!text.contains("std::"), "{shared}.rs uses std");
        assert!(
            !["unsafe {", "unsafe fn", "unsafe impl"]
                .iter()
                .any(|u| text.contains(u)),
            "{shared}.rs uses unsafe"
        );
        assert!(
            !text.contains(".unwrap()") && !text.contains(".expect("),
            "{shared}.rs may panic"
        );
    }
}
