//! Run-time values in HCL2. An attribute of a provisioner or post-processor that refers to
//! `build.X` (other than `build.name`) can only be finished when the build runs. As Packer does,
//! it is evaluated twice: while loading, with every `build.X` set to `"<unknown>"` (the value
//! the component's checks see before the build), and when the component runs, with the build's
//! generated data. The attribute becomes a [`NodeKind::Late`] node holding the expression and
//! what its scope knew (variables, locals, `source`, iteration values), so the second
//! evaluation gives exactly what the first would have given with the real values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use hcl_edit::expr::{Expression, Traversal, TraversalOperator};
use hcl_edit::visit::{visit_traversal, Visit};
use hcl_edit::Span as _;

use super::body::value_to_node;
use super::eval::{eval, span_of};
use super::scope::{BuildRefs, Ctx, Scope};
use crate::value::Value;
use kiln_config::diag::{Diagnostics, SourceFile, Span};
use kiln_config::node::{GeneratedData, LateRef, LateValue, Node, NodeKind, Resolve};

/// What a late value keeps of the load's context: everything an expression in a build block
/// can refer to, already evaluated.
#[derive(Debug)]
pub(crate) struct Frozen {
    vars: BTreeMap<String, Value>,
    locals: BTreeMap<String, Value>,
    path_root: String,
    path_cwd: String,
    base_dir: PathBuf,
    now: SystemTime,
    env: BTreeMap<String, String>,
    data: BTreeMap<String, Value>,
}

impl Frozen {
    fn of(ctx: &Ctx) -> Arc<Frozen> {
        let locals = ctx
            .locals
            .defs
            .iter()
            .map(|(name, def)| (name.clone(), ctx.locals.get(name, ctx, &def.span).unwrap_or(Value::Unknown)))
            .collect();
        Arc::new(Frozen {
            vars: ctx.vars.clone(),
            locals,
            path_root: ctx.path_root.clone(),
            path_cwd: ctx.path_cwd.clone(),
            base_dir: ctx.base_dir.clone(),
            now: ctx.now,
            env: ctx.env.clone(),
            data: ctx.data.values(),
        })
    }

    fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::new(self.path_root.clone(), self.path_cwd.clone(), self.now);
        ctx.vars = self.vars.clone();
        ctx.base_dir = self.base_dir.clone();
        ctx.env = self.env.clone();
        ctx.data = super::data::Data::preset(self.data.clone());
        ctx.locals.preset(&self.locals);
        ctx
    }
}

/// The `build.X` references of `expr` (not `build.name`, which is known while loading), unless
/// `build` is shadowed in `scope`.
pub(crate) fn build_refs(expr: &Expression, scope: &Scope) -> Vec<LateRef> {
    struct Finder<'s> {
        file: &'s Arc<SourceFile>,
        refs: Vec<LateRef>,
    }
    impl Visit for Finder<'_> {
        fn visit_traversal(&mut self, t: &Traversal) {
            if let (Expression::Variable(v), Some(first)) = (&t.expr, t.operators.first()) {
                if v.value().as_str() == "build" {
                    let attr = match first.value() {
                        TraversalOperator::GetAttr(a) => Some(a.value().as_str().to_string()),
                        TraversalOperator::Index(Expression::String(s)) => Some(s.value().clone()),
                        _ => None,
                    };
                    if let Some(name) = attr.filter(|a| a != "name") {
                        let span = match (v.span(), first.span()) {
                            (Some(a), Some(b)) => Span::new(self.file, a.start, b.end),
                            _ => span_of(self.file, v),
                        };
                        self.refs.push(LateRef { name, span: Some(span) });
                    }
                }
            }
            visit_traversal(self, t);
        }
    }
    if !scope.is_namespace("build") {
        return Vec::new();
    }
    let mut f = Finder { file: scope.file, refs: Vec::new() };
    f.visit_expr(expr);
    f.refs
}

/// The late node of an attribute whose expression refers to the build's generated data:
/// `placeholder` is its value with `"<unknown>"` for every reference.
pub(crate) fn late_node(expr: &Expression, scope: &Scope, refs: Vec<LateRef>, placeholder: Node) -> Node {
    let span = span_of(scope.file, expr);
    let frozen = Arc::clone(scope.ctx.frozen.get_or_init(|| Frozen::of(scope.ctx)));
    let resolver = HclLate {
        expr: expr.clone(),
        file: Arc::clone(scope.file),
        frozen,
        source: scope.source.clone(),
        build_name: scope.build_name.clone(),
        bound: scope.bound.clone(),
        isolated: scope.isolated,
        span: span.clone(),
    };
    let text = span.text().to_string();
    Node::new(NodeKind::Late(LateValue::new(placeholder, text, refs, Arc::new(resolver))), Some(span))
}

/// An attribute's expression with everything its scope knew while loading.
struct HclLate {
    expr: Expression,
    file: Arc<SourceFile>,
    frozen: Arc<Frozen>,
    source: Option<(String, String)>,
    build_name: Option<String>,
    bound: Vec<(String, Value)>,
    isolated: bool,
    span: Span,
}

impl std::fmt::Debug for HclLate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HclLate").field("expr", &self.span.text()).finish()
    }
}

impl Resolve for HclLate {
    fn resolve(&self, data: &GeneratedData) -> Result<Node, Diagnostics> {
        let ctx = self.frozen.ctx();
        let mut scope = Scope::new(&self.file, &ctx);
        scope.source = self.source.clone();
        scope.build = BuildRefs::Known(data);
        scope.build_name = self.build_name.clone();
        scope.bound = self.bound.clone();
        scope.isolated = self.isolated;
        match eval(&self.expr, &scope) {
            Ok(v) => Ok(value_to_node(&v, &self.span)),
            Err(e) => Err((*e).into()),
        }
    }
}
