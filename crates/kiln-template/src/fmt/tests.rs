use super::*;

fn fmt(src: &str) -> String {
    let f = SourceFile::new("t.pkr.hcl", src);
    match format(src, &f) {
        Ok(s) => s,
        Err(d) => panic!("format failed: {d}"),
    }
}

#[test]
fn aligns_equals_and_comments() {
    assert_eq!(
        fmt("a=1\nbbb = \"x\"   # c\nc {\n d = [ 1,2 ]\n}\n"),
        "a   = 1\nbbb = \"x\" # c\nc {\n  d = [1, 2]\n}\n"
    );
}
