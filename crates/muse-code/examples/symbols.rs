//! Prints the symbols muse extracts from files: `cargo run -p muse-code --example symbols --
//! FILE…` (one line per symbol: line, visibility, kind, signature), to check extraction by eye.

fn main() {
    for path in std::env::args().skip(1) {
        let Some(language) = muse_code::Language::of_path(&path) else {
            eprintln!("{path}: not a language muse extracts");
            continue;
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        println!("{path} ({language})");
        match muse_code::extract(language, &bytes) {
            muse_code::FileSymbols::Parsed { symbols, syntax_errors } => {
                for s in symbols {
                    println!("  {:>5} {} {:<9} {}", s.line, if s.public { "pub " } else { "priv" }, s.kind.as_str(), s.signature());
                }
                if syntax_errors {
                    println!("  (syntax errors recovered from)");
                }
            }
            muse_code::FileSymbols::Unknown { reason } => println!("  no symbols: {}", reason.as_str()),
        }
    }
}
