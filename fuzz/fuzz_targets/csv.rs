#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dtindex::fuzzing::run("csv", data));
