//! Feeds arbitrary bytes through every grammar of the code domain: extraction never panics, and
//! every symbol it reports has a line and a body hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muse_code::{extract, FileSymbols, Language};

fuzz_target!(|data: &[u8]| {
    for language in Language::ALL {
        if let FileSymbols::Parsed { symbols, .. } = extract(language, data) {
            for s in symbols {
                assert!(s.line >= 1 && !s.body.is_empty(), "{s:?}");
                let _ = s.signature();
            }
        }
    }
});
