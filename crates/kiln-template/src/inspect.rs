//! `inspect`: a template's variables, sources and builds as Packer prints them.

use crate::plan::Template;

pub fn render(_t: &Template) -> String {
    String::new()
}
