//! `cr-codegen OUTDIR [SCHEMA]`: writes `abi.rs`, `mod.rs`, `generated.rs`, `checkpoint.h`,
//! `abi_hash.txt` and `schema.txt` generated from the schema (default: `rust/abi/schema.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: cr-codegen OUTDIR [SCHEMA]")?);
    let schema = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("rust/abi/schema.rs"));
    let src = std::fs::read_to_string(&schema).map_err(|e| format!("{}: {e}", schema.display()))?;
    let g = cr_codegen::generate(&src).map_err(|mut e| {
        e.file = schema.display().to_string();
        e.to_string()
    })?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, text) in [
        ("abi.rs", &g.rust),
        ("mod.rs", &g.kernel_mod),
        ("generated.rs", &g.kernel_generated),
        ("checkpoint.h", &g.c_header),
        ("schema.txt", &g.schema_text),
        ("abi_hash.txt", &format!("{}\n", g.abi_hash_hex)),
    ] {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    println!("{}", g.abi_hash_hex);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cr-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}
