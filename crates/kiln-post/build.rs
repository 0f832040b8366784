//! Builds the vendored libdeflate compressor (see libdeflate/README.md).

fn main() {
    println!("cargo:rerun-if-changed=libdeflate");
    cc::Build::new()
        .files(["libdeflate/lib/deflate_compress.c", "libdeflate/lib/utils.c"])
        .include("libdeflate")
        // Optimised in every profile: debug builds and tests compress megabytes too.
        .opt_level(2)
        .warnings(false)
        .compile("kiln_libdeflate");
}
