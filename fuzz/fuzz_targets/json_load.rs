//! Legacy JSON loader: no input may make it panic.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load_as(data, "fuzz.json"));
