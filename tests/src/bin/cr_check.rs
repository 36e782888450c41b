//! `cr check` reports a supported kernel whose ABI matches the tool's and exits 0; `--schema`
//! prints the schema itself when both agree.

use cr_tests::{fail, pass, run_cr};

fn main() {
    let run = run_cr(&["check"], None);
    if run.code != 0 {
        fail(format!("cr check: {}", run.describe()));
    }
    for want in [
        format!("kernel abi: {}", abi::ABI_HASH_HEX),
        format!("tool abi:   {}", abi::ABI_HASH_HEX),
        "abi match:  yes".to_string(),
        "supported:  yes".to_string(),
    ] {
        if !run.stdout.lines().any(|l| l == want) {
            fail(format!(
                "cr check printed no line {want:?}: {}",
                run.describe()
            ));
        }
    }
    let run = run_cr(&["check", "--schema"], None);
    if run.code != 0 || !run.stdout.ends_with(abi::SCHEMA) {
        fail(format!("cr check --schema: {}", run.describe()));
    }
    pass("cr check sees the kernel's support and a matching ABI");
}
