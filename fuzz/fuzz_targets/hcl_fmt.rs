//! HCL2 formatter: never panics, and formatting is idempotent on what it accepts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = kiln_template::SourceFile::new("fuzz.pkr.hcl", text);
    if let Ok(once) = kiln_tools::fmt::format(&file) {
        let file2 = kiln_template::SourceFile::new("fuzz.pkr.hcl", once.as_str());
        let twice = kiln_tools::fmt::format(&file2).expect("formatted output parses");
        assert_eq!(once, twice, "fmt is not idempotent");
    }
});
