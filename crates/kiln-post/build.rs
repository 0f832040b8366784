//! Builds the vendored libdeflate compressor (see libdeflate/README.md).

/// Its global symbols, renamed so that another copy of libdeflate linked into the same binary
/// (a dependency's) cannot clash with this patched one.
const SYMBOLS: &[&str] = &[
    "libdeflate_alloc_compressor",
    "libdeflate_alloc_compressor_ex",
    "libdeflate_deflate_compress",
    "libdeflate_deflate_compress_bound",
    "libdeflate_free_compressor",
    "libdeflate_get_compression_level",
    "libdeflate_aligned_free",
    "libdeflate_aligned_malloc",
    "libdeflate_default_free_func",
    "libdeflate_default_malloc_func",
    "libdeflate_set_memory_allocator",
];

fn main() {
    println!("cargo:rerun-if-changed=libdeflate");
    let mut b = cc::Build::new();
    b.files(["libdeflate/lib/deflate_compress.c", "libdeflate/lib/utils.c"]).include("libdeflate");
    for s in SYMBOLS {
        b.define(s, Some(format!("kiln_{s}").as_str()));
    }
    // Optimised in every profile: debug builds and tests compress megabytes too.
    b.opt_level(2).warnings(false).compile("kiln_libdeflate");
}
