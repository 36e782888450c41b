//! The ABI hash, the schema text and the schema checks.

use std::path::PathBuf;

fn schema() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../abi/schema.rs");
    std::fs::read_to_string(p).unwrap()
}

fn hash(src: &str) -> String {
    cr_codegen::generate(src).unwrap().abi_hash_hex
}

fn err(src: &str) -> String {
    match cr_codegen::generate(src) {
        Ok(_) => panic!("schema accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn hash_ignores_comments_and_whitespace() {
    let s = schema();
    let h = hash(&s);
    assert_eq!(h.len(), 64);
    let reformatted = s
        .replace("/// Zero.", "/// Zero: reserved, written as zero.")
        .replace("pub magic: u64,", "pub   magic :\n   u64 ,  // the magic\n")
        .replace("\n\n", "\n\n// another comment\n\n");
    assert_ne!(reformatted, s);
    assert_eq!(hash(&reformatted), h);
}

#[test]
fn hash_changes_with_the_layout() {
    let s = schema();
    let h = hash(&s);
    let variants = [
        // a field added
        s.replace(
            "    pub umask: u32,\n}",
            "    pub umask: u32,\n    /// New.\n    pub extra: u64,\n}",
        ),
        // a field renamed
        s.replace("pub umask: u32,", "pub mask: u32,"),
        // a field retyped (same size)
        s.replace("pub umask: u32,", "pub umask: i32,"),
        // a type id changed
        s.replace("Fs = 51,", "Fs = 47,"),
        // a limit changed
        s.replace("#[record(Fs, max = 128)]", "#[record(Fs, max = 136)]"),
        // a constant changed
        s.replace(
            "pub const CKPT_KILL: u32 = 2;",
            "pub const CKPT_KILL: u32 = 4;",
        ),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(v, &s, "variant {i} did not apply");
        assert_ne!(hash(v), h, "variant {i} kept the hash");
    }
}

#[test]
fn schema_text_is_hashed_body() {
    let g = cr_codegen::generate(&schema()).unwrap();
    let (first, body) = g.schema_text.split_once('\n').unwrap();
    assert_eq!(first, format!("abi {}", g.abi_hash_hex));
    assert!(body.contains("record Header 1 size "));
    assert!(body.contains("  field magic u64 0\n"));
    assert!(body.contains("raw Pad 3 max "));
    assert!(body.contains("const NR_CHECKPOINT u32 463\n"));
    assert!(g.rust.contains(&format!("\"{}\"", g.abi_hash_hex)));
    assert!(
        !g.rust.contains("#!["),
        "the included code has no inner attributes"
    );
    assert!(g.kernel_mod.contains("pub mod xxh64;\n"));
    assert!(g
        .kernel_mod
        .trim_end()
        .ends_with("include!(\"generated.rs\");"));
    assert!(g
        .kernel_generated
        .contains(&format!("\"{}\"", g.abi_hash_hex)));
}

#[test]
fn rejects_bad_schemas() {
    let s = schema();
    // Implicit padding.
    let e = err(&s.replace(
        "    pub umask: u32,\n}",
        "    pub umask: u32,\n    /// x\n    pub a: u8,\n    /// y\n    pub b: u32,\n}",
    ));
    assert!(e.contains("implicit padding"), "{e}");
    assert!(e.starts_with("schema.rs:"), "{e}");
    // Size not a multiple of 8.
    let e = err(&s.replace(
        "    pub umask: u32,\n}",
        "    pub umask: u32,\n    /// x\n    pub a: u32,\n}",
    ));
    assert!(e.contains("multiple of 8"), "{e}");
    // Missing doc.
    let e = err(&s.replace("    /// File mode creation mask.\n", ""));
    assert!(e.contains("no doc comment"), "{e}");
    // Forbidden type.
    let e = err(&s.replace("pub umask: u32,", "pub umask: usize,"));
    assert!(e.contains("field type"), "{e}");
    // Duplicate id.
    let e = err(&s.replace("Fs = 51,", "Fs = 50,"));
    assert!(e.contains("used twice"), "{e}");
    // max below the struct size.
    let e = err(&s.replace("#[record(Fs, max = 128)]", "#[record(Fs, max = 12)]"));
    assert!(e.contains("below"), "{e}");
    // A variant without struct or raw.
    let e = err(&s.replace("#[raw(max = 8 + 1024)]\n    Auxv", "Auxv"));
    assert!(e.contains("neither"), "{e}");
    // Syntax error with position.
    let e = err("pub const X: u32 = ;");
    assert!(e.starts_with("schema.rs:1:"), "{e}");
}
