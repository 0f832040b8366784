//! Data sources while loading: each `data "type" "name" { }` block is run on first use, like a
//! local, so data sources, locals and variables may refer to each other in any order that has
//! no cycle. Its body is evaluated into a configuration tree and handed to the
//! [`crate::load::DataSources`] runner; the result is what `data.type.name` refers to.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hcl_edit::structure::Body;

use super::body::body_members;
use super::eval::{err, eval, BoxedDiagnostic, EvalResult};
use super::scope::{undefined, Ctx, Scope};
use crate::load::{DataRequest, DataSources};
use crate::value::Value;
use kiln_config::diag::{Diagnostic, SourceFile, Span};
use kiln_config::node::Node;

/// One `data` block.
pub(crate) struct RawData {
    pub ty: String,
    pub name: String,
    pub file: Arc<SourceFile>,
    pub body: Body,
    pub type_span: Span,
    /// `data "type" "name"`.
    pub header_span: Span,
    pub block_span: Span,
}

impl RawData {
    pub fn key(&self) -> String {
        format!("{}.{}", self.ty, self.name)
    }
}

enum State {
    InProgress,
    Done(Value),
    /// Its error is already recorded; dependants see an unknown value.
    Failed,
}

/// The data sources of one load: declared ones by `type.name`, run on first use.
#[derive(Default)]
pub(crate) struct Data {
    declared: BTreeSet<String>,
    defs: BTreeMap<String, Arc<RawData>>,
    runner: Option<Arc<dyn DataSources>>,
    state: RefCell<BTreeMap<String, State>>,
    /// Errors and warnings of the data sources run so far.
    diags: RefCell<Vec<Diagnostic>>,
    /// The values of outputs marked sensitive.
    secrets: RefCell<Vec<String>>,
    /// The `packer {}` block's `required_plugins`, set once that block is read (before any
    /// data source can run).
    pub required_plugins: Vec<crate::plan::RequiredPlugin>,
}

impl Data {
    /// Data sources that run with `runner`; without one, their values are unknown.
    pub fn new(defs: &[Arc<RawData>], runner: Option<Arc<dyn DataSources>>) -> Data {
        Data {
            declared: defs.iter().map(|d| d.key()).collect(),
            defs: defs.iter().map(|d| (d.key(), Arc::clone(d))).collect(),
            runner,
            ..Data::default()
        }
    }

    /// Data sources whose values are already known (resolving a late value after the load).
    pub fn preset(values: BTreeMap<String, Value>) -> Data {
        Data {
            declared: values.keys().cloned().collect(),
            state: RefCell::new(values.into_iter().map(|(k, v)| (k, State::Done(v))).collect()),
            ..Data::default()
        }
    }

    /// Every declared data source's value (unknown where it did not run or failed).
    pub fn values(&self) -> BTreeMap<String, Value> {
        let state = self.state.borrow();
        let value = |k: &String| match state.get(k) {
            Some(State::Done(v)) => v.clone(),
            _ => Value::Unknown,
        };
        self.declared.iter().map(|k| (k.clone(), value(k))).collect()
    }

    /// `data.<key>`.
    pub fn get(&self, key: &str, ctx: &Ctx, at: &Span) -> EvalResult {
        if !self.declared.contains(key) {
            return Err(undefined("data source", "data", key, self.declared.iter(), at));
        }
        let me = format!("data.{key}");
        match self.state.borrow().get(key) {
            Some(State::Done(v)) => return Ok(v.clone()),
            Some(State::Failed) => {
                ctx.taint_evaluating();
                return Ok(Value::Unknown);
            }
            Some(State::InProgress) => return Err(ctx.cycle(&me, at)),
            None => {}
        }
        let (Some(def), Some(runner)) = (self.defs.get(key), &self.runner) else {
            return Ok(Value::Unknown);
        };
        self.state.borrow_mut().insert(key.to_string(), State::InProgress);
        ctx.evaluating.borrow_mut().push(me);
        let result = self.run(def, runner.as_ref(), ctx);
        ctx.evaluating.borrow_mut().pop();
        let state = match result {
            Some(v) => State::Done(v.clone()),
            None => {
                ctx.taint_evaluating();
                State::Failed
            }
        };
        let v = match &state {
            State::Done(v) => v.clone(),
            _ => Value::Unknown,
        };
        self.state.borrow_mut().insert(key.to_string(), state);
        Ok(v)
    }

    /// Evaluates the body and runs the data source; `None` when either failed (the errors are
    /// recorded).
    fn run(&self, def: &RawData, runner: &dyn DataSources, ctx: &Ctx) -> Option<Value> {
        let scope = Scope::new(&def.file, ctx);
        if uses_unknown(&def.body, &scope) {
            // A variable without a value (console), or a data source that failed (its error is
            // recorded): running it would only add a misleading error.
            return Some(Value::Unknown);
        }
        let mut diags = Vec::new();
        let members = body_members(&def.body, &scope, &[], &mut diags);
        let failed = diags.iter().any(Diagnostic::is_error);
        self.diags.borrow_mut().extend(diags);
        if failed {
            return None;
        }
        let config = Node::object(members, Some(def.block_span.clone()));
        let request = DataRequest {
            ty: &def.ty,
            name: &def.name,
            config: &config,
            type_span: &def.type_span,
            block_span: &def.header_span,
            required_plugins: &self.required_plugins,
        };
        match runner.run(&request) {
            Ok(out) => {
                self.diags.borrow_mut().extend(out.warnings);
                if let Value::Object(m) = &out.value {
                    let mut secrets = self.secrets.borrow_mut();
                    for name in &out.sensitive {
                        if let Some(v) = m.get(name) {
                            crate::hcl::collect_strings(v, &mut secrets);
                        }
                    }
                }
                Some(out.value)
            }
            Err(d) => {
                self.diags.borrow_mut().extend(d.0);
                None
            }
        }
    }

    /// Runs every data source not run yet; returns the errors and warnings of all of them and
    /// the values of their sensitive outputs.
    pub fn run_all(&self, ctx: &Ctx) -> (Vec<Diagnostic>, Vec<String>) {
        for (key, def) in &self.defs {
            if let Err(e) = self.get(key, ctx, &def.type_span) {
                self.diags.borrow_mut().push(*e);
            }
        }
        (std::mem::take(&mut *self.diags.borrow_mut()), std::mem::take(&mut *self.secrets.borrow_mut()))
    }
}

/// Whether an attribute of `body`, or of a block in it, evaluates to a value not known yet.
/// Errors are left for the evaluation proper to report.
fn uses_unknown(body: &Body, scope: &Scope) -> bool {
    body.iter().any(|s| match (s.as_attribute(), s.as_block()) {
        (Some(a), _) => matches!(eval(&a.value, scope), Ok(v) if !v.is_known()),
        (_, Some(b)) => uses_unknown(&b.body, scope),
        _ => false,
    })
}

impl Ctx {
    /// The error for a reference to `me` while `me` is being evaluated: the chain of the cycle.
    pub(crate) fn cycle(&self, me: &str, at: &Span) -> Box<Diagnostic> {
        let stack = self.evaluating.borrow();
        let start = stack.iter().position(|n| n == me).unwrap_or(0);
        let mut chain: Vec<String> = stack[start..].to_vec();
        chain.push(me.to_string());
        err(format!("{me} depends on itself"), at.clone())
            .with_detail_box(&format!("cycle: {}", chain.join(" -> ")))
            .with_help_box("break the cycle: a value cannot be computed from itself")
    }
}
