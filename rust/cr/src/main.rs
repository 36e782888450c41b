//! `cr`: checkpoint and restart process trees; see the library for the commands.

use clap::Parser;

fn main() {
    let cli = cr::cli::Cli::parse();
    std::process::exit(cr::cli::run(cli));
}
