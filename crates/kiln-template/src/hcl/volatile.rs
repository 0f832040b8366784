//! Options whose value changes on every run (`timestamp()`, `uuidv4()`, `bcrypt()`'s random
//! salt), directly or through a local: the step cache cannot cache a provisioner that uses one,
//! and says which option it was.

use std::collections::BTreeSet;
use std::sync::Arc;

use hcl_edit::expr::{Expression, FuncCall, Traversal, TraversalOperator};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::visit::{visit_func_call, visit_traversal, Visit};

use super::eval::span_of;
use super::scope::Scope;
use kiln_config::build::Volatile;
use kiln_config::diag::{SourceFile, Span};

const VOLATILE: &[&str] = &["timestamp", "uuidv4", "bcrypt"];

/// The first volatile use in each top-level attribute or nested block of `body`.
pub(crate) fn volatile_uses(body: &Body, scope: &Scope) -> Vec<Volatile> {
    let mut out = Vec::new();
    for s in body.iter() {
        let mut f = Finder { scope, file: scope.file, seen: BTreeSet::new(), found: None };
        let option = match s {
            Structure::Attribute(a) => {
                f.visit_expr(&a.value);
                a.key.as_str().to_string()
            }
            Structure::Block(b) => {
                f.visit_body(&b.body);
                b.ident.as_str().to_string()
            }
        };
        if let Some((what, _, span)) = f.found {
            out.push(Volatile { option, what, span });
        }
    }
    out
}

struct Finder<'s> {
    scope: &'s Scope<'s>,
    file: &'s Arc<SourceFile>,
    /// Locals already looked into (they may refer to each other).
    seen: BTreeSet<String>,
    /// What it uses as written here, the volatile function itself, where.
    found: Option<(String, String, Option<Span>)>,
}

impl Finder<'_> {
    /// Whether local `name`'s expression (or a local it uses) is volatile: the function.
    fn local(&mut self, name: &str) -> Option<String> {
        if !self.seen.insert(name.to_string()) {
            return None;
        }
        let def = self.scope.ctx.locals.defs.get(name)?;
        let mut inner =
            Finder { scope: self.scope, file: &def.file, seen: std::mem::take(&mut self.seen), found: None };
        inner.visit_expr(&def.expr);
        self.seen = inner.seen;
        inner.found.map(|(_, function, _)| function)
    }
}

impl Visit for Finder<'_> {
    fn visit_func_call(&mut self, call: &FuncCall) {
        let name = call.name.name.as_str();
        if self.found.is_none() && call.name.namespace.is_empty() && VOLATILE.contains(&name) {
            let function = format!("{name}()");
            self.found = Some((function.clone(), function, Some(span_of(self.file, call))));
            return;
        }
        visit_func_call(self, call);
    }

    fn visit_traversal(&mut self, t: &Traversal) {
        if self.found.is_none() {
            if let (Expression::Variable(v), Some(first)) = (&t.expr, t.operators.first()) {
                if v.value().as_str() == "local" && self.scope.is_namespace("local") {
                    if let TraversalOperator::GetAttr(a) = first.value() {
                        let name = a.value().as_str().to_string();
                        if let Some(function) = self.local(&name) {
                            let what = format!("local.{name} (which uses {function})");
                            self.found = Some((what, function, Some(span_of(self.file, t))));
                            return;
                        }
                    }
                }
            }
        }
        visit_traversal(self, t);
    }
}
