//! What an expression can refer to: variables, locals and data sources (evaluated lazily, in
//! dependency order, with cycles reported), `path.*`, `packer.version`, `source.*`, `build.*`
//! and the names bound by `for` expressions and `dynamic` blocks.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use hcl_edit::expr::Expression;

use super::data::Data;
use super::eval::{err, eval, BoxedDiagnostic, EvalResult};
use crate::value::Value;
use kiln_config::diag::{did_you_mean, Diagnostic, SourceFile, Span};

/// Everything shared by all evaluations of one load.
pub(crate) struct Ctx {
    /// Declared variables and their values (`Unknown` when not known at this stage).
    pub vars: BTreeMap<String, Value>,
    /// False while evaluating variable defaults, which may not refer to other variables.
    pub vars_allowed: bool,
    /// Data sources, run on first use.
    pub data: Data,
    pub locals: Locals,
    /// The locals and data sources being evaluated (`local.x`, `data.t.n`), outermost first,
    /// for cycle messages.
    pub evaluating: RefCell<Vec<String>>,
    pub path_root: String,
    pub path_cwd: String,
    pub base_dir: PathBuf,
    pub now: SystemTime,
    /// Syntax stage: build blocks' expressions are evaluated where possible, errors dropped.
    pub lenient: bool,
    /// The environment `env()` reads (only in variable defaults, as in Packer).
    pub env: BTreeMap<String, String>,
    /// What late values keep of this context, made once when the first one is captured.
    pub frozen: std::cell::OnceCell<Arc<super::late::Frozen>>,
}

impl Ctx {
    pub fn new(path_root: String, path_cwd: String, now: SystemTime) -> Ctx {
        Ctx {
            vars: BTreeMap::new(),
            vars_allowed: true,
            data: Data::default(),
            locals: Locals::default(),
            evaluating: RefCell::new(Vec::new()),
            base_dir: PathBuf::from(&path_cwd),
            path_root,
            path_cwd,
            now,
            lenient: false,
            env: BTreeMap::new(),
            frozen: std::cell::OnceCell::new(),
        }
    }
}

/// Where `build.X` references go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildRefs<'a> {
    /// Outside provisioners and post-processors: not known before the build runs.
    Unknown,
    /// Inside provisioners and post-processors, before the build runs: Packer's placeholder
    /// `"<unknown>"`; the attribute holding the reference becomes a late value.
    Late,
    /// Resolving a late value: the build's generated data.
    Known(&'a kiln_config::node::GeneratedData),
}

/// Packer's value of every generated-data key before the build runs.
pub(crate) const UNKNOWN_BUILD_VALUE: &str = "<unknown>";

/// The scope of one evaluation.
pub(crate) struct Scope<'a> {
    pub file: &'a Arc<SourceFile>,
    pub ctx: &'a Ctx,
    /// `source.type` and `source.name`, inside a build's source or provisioners.
    pub source: Option<(String, String)>,
    pub build: BuildRefs<'a>,
    /// The build block's `name` (`build.name`), inside its provisioners and post-processors.
    pub build_name: Option<String>,
    /// Names bound by enclosing `for` expressions, `dynamic` iterators and `templatefile`.
    pub bound: Vec<(String, Value)>,
    /// When set, only `bound` names are visible (templatefile).
    pub isolated: bool,
}

impl<'a> Scope<'a> {
    pub fn new(file: &'a Arc<SourceFile>, ctx: &'a Ctx) -> Scope<'a> {
        Scope {
            file,
            ctx,
            source: None,
            build: BuildRefs::Unknown,
            build_name: None,
            bound: Vec::new(),
            isolated: false,
        }
    }

    /// A scope for a nested binding (a `for` body).
    pub fn child(&self) -> Scope<'a> {
        Scope {
            file: self.file,
            ctx: self.ctx,
            source: self.source.clone(),
            build: self.build,
            build_name: self.build_name.clone(),
            bound: self.bound.clone(),
            isolated: self.isolated,
        }
    }

    pub fn bind(&mut self, name: &str, v: Value) {
        self.bound.push((name.to_string(), v));
    }

    /// Whether `name` is a reference namespace whose first attribute selects the value.
    pub fn is_namespace(&self, name: &str) -> bool {
        !self.isolated
            && !self.bound.iter().any(|(n, _)| n == name)
            && matches!(name, "var" | "local" | "path" | "packer" | "source" | "build" | "data")
    }

    /// A bare name: a bound iteration variable, or an error.
    pub fn root(&self, name: &str, at: &Span) -> EvalResult {
        if let Some((_, v)) = self.bound.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if self.is_namespace(name) {
            return Err(err(format!("`{name}` cannot be used on its own"), at.clone()));
        }
        let mut names: Vec<&str> = self.bound.iter().map(|(n, _)| n.as_str()).collect();
        if !self.isolated {
            names.extend(["var", "local", "path", "packer", "source", "build", "data"]);
        }
        let mut e = err(format!("unknown variable \"{name}\""), at.clone());
        e.help = Some(match did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if !self.isolated => {
                "references start with var., local., path., packer., source., build. or data.".to_string()
            }
            None => "only the variables passed to templatefile() are visible here".to_string(),
        });
        Err(e)
    }

    /// `ns.attr` for the namespaces other than `data`.
    pub fn namespaced(&self, ns: &str, attr: &str, at: &Span) -> EvalResult {
        match ns {
            "var" => {
                if !self.ctx.vars_allowed {
                    return Err(err("variables may not be used here", at.clone())
                        .with_detail_box("a variable's default is fixed text: it cannot refer to other variables"));
                }
                match self.ctx.vars.get(attr) {
                    Some(v) => Ok(v.clone()),
                    None => Err(undefined("variable", "var", attr, self.ctx.vars.keys(), at)),
                }
            }
            "local" => {
                if !self.ctx.vars_allowed {
                    return Err(err("locals may not be used here", at.clone()));
                }
                self.ctx.locals.get(attr, self.ctx, at)
            }
            "path" => match attr {
                "root" => Ok(Value::String(self.ctx.path_root.clone())),
                "cwd" => Ok(Value::String(self.ctx.path_cwd.clone())),
                _ => Err(undefined("path attribute", "path", attr, ["root", "cwd"].iter(), at)),
            },
            "packer" => match attr {
                "version" => Ok(Value::String(crate::PACKER_COMPAT_VERSION.to_string())),
                _ => Err(undefined("packer attribute", "packer", attr, ["version"].iter(), at)),
            },
            "source" => match (&self.source, attr) {
                (Some((t, _)), "type") => Ok(Value::String(t.clone())),
                (Some((_, n)), "name") => Ok(Value::String(n.clone())),
                (Some(_), _) => Err(undefined("source attribute", "source", attr, ["type", "name"].iter(), at)),
                (None, _) => {
                    Err(err("`source` can only be used inside a build block's sources and provisioners", at.clone()))
                }
            },
            "build" => match (self.build, attr) {
                (BuildRefs::Unknown, _) => Ok(Value::Unknown),
                (_, "name") => Ok(Value::String(self.build_name.clone().unwrap_or_default())),
                (BuildRefs::Late, _) => Ok(Value::String(UNKNOWN_BUILD_VALUE.to_string())),
                (BuildRefs::Known(data), _) => match data.get(attr) {
                    Some(v) => Ok(Value::String(v.clone())),
                    None => {
                        let mut known: Vec<&String> = data.keys().collect();
                        let name = "name".to_string();
                        known.push(&name);
                        Err(undefined("build variable", "build", attr, known.into_iter(), at))
                    }
                },
            },
            _ => Err(err(format!("unknown reference `{ns}.{attr}`"), at.clone())),
        }
    }

    /// `data.type.name`: the data source's outputs (unknown where data sources do not run).
    pub fn data_ref(&self, ty: &str, name: &str, at: &Span) -> EvalResult {
        self.ctx.data.get(&format!("{ty}.{name}"), self.ctx, at)
    }
}

pub(crate) fn undefined<'s, S: AsRef<str> + 's>(
    what: &str,
    ns: &str,
    name: &str,
    known: impl Iterator<Item = &'s S>,
    at: &Span,
) -> Box<Diagnostic> {
    let known: Vec<&str> = known.map(AsRef::as_ref).collect();
    let mut e = err(format!("reference to undeclared {what} `{ns}.{name}`"), at.clone());
    e.help = match did_you_mean(name, known.iter().copied()) {
        Some(s) => Some(format!("did you mean `{ns}.{s}`?")),
        None if ns == "var" => Some(format!("declare it with a `variable \"{name}\" {{}}` block")),
        None if ns == "local" => Some(format!("declare it in a `locals {{ {name} = ... }}` block")),
        None => None,
    };
    e
}

/// One `locals` entry.
pub(crate) struct LocalDef {
    pub expr: Expression,
    pub file: Arc<SourceFile>,
    pub span: Span,
}

enum LocalState {
    InProgress,
    Done(Value),
    /// Its error is already recorded; dependants see an unknown value.
    Failed,
}

impl Ctx {
    /// Every local being evaluated now depends on a local or data source that failed.
    pub(crate) fn taint_evaluating(&self) {
        let stack = self.evaluating.borrow();
        let locals = stack.iter().filter_map(|n| n.strip_prefix("local."));
        self.locals.tainted.borrow_mut().extend(locals.map(str::to_string));
    }
}

/// Locals, evaluated on first use so that they may refer to each other in any order.
#[derive(Default)]
pub(crate) struct Locals {
    pub defs: BTreeMap<String, LocalDef>,
    state: RefCell<BTreeMap<String, LocalState>>,
    errors: RefCell<Vec<Diagnostic>>,
    /// Locals whose evaluation failed or used a local that failed: Packer cannot evaluate
    /// them either, so `inspect` leaves them out.
    tainted: RefCell<BTreeSet<String>>,
}

impl Locals {
    /// Locals whose values are already known (resolving a late value after the load).
    pub fn preset(&self, values: &BTreeMap<String, Value>) {
        let mut state = self.state.borrow_mut();
        for (k, v) in values {
            state.insert(k.clone(), LocalState::Done(v.clone()));
        }
    }

    pub fn get(&self, name: &str, ctx: &Ctx, at: &Span) -> EvalResult {
        if self.defs.is_empty() {
            if let Some(LocalState::Done(v)) = self.state.borrow().get(name) {
                return Ok(v.clone());
            }
        }
        let Some(def) = self.defs.get(name) else {
            return Err(undefined("local", "local", name, self.defs.keys(), at));
        };
        match self.state.borrow().get(name) {
            Some(LocalState::Done(v)) => {
                if self.tainted.borrow().contains(name) {
                    ctx.taint_evaluating();
                }
                return Ok(v.clone());
            }
            Some(LocalState::Failed) => {
                ctx.taint_evaluating();
                return Ok(Value::Unknown);
            }
            Some(LocalState::InProgress) => return Err(ctx.cycle(&format!("local.{name}"), at)),
            None => {}
        }
        self.state.borrow_mut().insert(name.to_string(), LocalState::InProgress);
        ctx.evaluating.borrow_mut().push(format!("local.{name}"));
        let scope = Scope::new(&def.file, ctx);
        let result = eval(&def.expr, &scope);
        ctx.evaluating.borrow_mut().pop();
        let v = match result {
            Ok(v) => {
                self.state.borrow_mut().insert(name.to_string(), LocalState::Done(v.clone()));
                v
            }
            Err(e) => {
                self.errors.borrow_mut().push(*e);
                self.state.borrow_mut().insert(name.to_string(), LocalState::Failed);
                self.tainted.borrow_mut().insert(name.to_string());
                ctx.taint_evaluating();
                Value::Unknown
            }
        };
        Ok(v)
    }

    /// Whether `name` could not be evaluated, by its own error or one of a local it uses.
    pub fn failed(&self, name: &str) -> bool {
        self.tainted.borrow().contains(name)
    }

    /// Evaluates every local; returns their values (in name order) and the errors found.
    pub fn evaluate_all(&self, ctx: &Ctx) -> (Vec<(String, Value)>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        for (name, def) in &self.defs {
            let v = self.get(name, ctx, &def.span).unwrap_or(Value::Unknown);
            out.push((name.clone(), v));
        }
        (out, std::mem::take(&mut *self.errors.borrow_mut()))
    }
}
