//! Late copies that stand on their own: in a late action, every sub-expression that is known
//! now (``(user `port`)``, `timestamp`, the start of a pipeline) is replaced by its value as a
//! constant, so rendering the copy later needs only the late data, gives the same time, and
//! does not read user variables again. Everything else is copied byte for byte.

use super::exec::{go_literal, Exec, Fail};
use super::parse::{ArgKind, Pipe};
use super::value::V;

impl Exec<'_> {
    /// Writes the late action at `span` with its known parts folded.
    pub(super) fn write_folded(&mut self, pipe: &Pipe, span: (usize, usize), out: &mut String) {
        let mut repl = Vec::new();
        self.fold_pipe(pipe, &mut repl);
        repl.sort_by_key(|r| r.0);
        let (start, end) = span;
        let mut pos = start;
        for (a, b, lit) in repl {
            // Replacements never overlap by construction; skip any that would, to stay safe.
            if a < pos || b > end {
                continue;
            }
            self.copy(pos, a, out);
            out.push_str(&lit);
            pos = b;
        }
        self.copy(pos, end, out);
    }

    /// Copies `src[a..b]` to the output, remembering where it came from.
    pub(super) fn copy(&mut self, a: usize, b: usize, out: &mut String) {
        let text = self.src.get(a..b).unwrap_or_default();
        if !text.is_empty() {
            self.notes.copies.push((out.len(), a, text.len()));
            out.push_str(text);
        }
    }

    fn fold_pipe(&mut self, pipe: &Pipe, repl: &mut Vec<(usize, usize, String)>) {
        // The longest prefix of commands known now becomes one constant.
        let mut prev: Option<(V, usize)> = None;
        let mut known = 0;
        for cmd in &pipe.cmds {
            match self.command(cmd, &V::Root, prev.clone()) {
                Ok(v) => {
                    prev = Some((v, cmd.offset));
                    known += 1;
                }
                Err(_) => break,
            }
        }
        if known == pipe.cmds.len() {
            return;
        }
        if known > 0 {
            if let Some(lit) = prev.as_ref().and_then(|(v, _)| go_literal(v)) {
                repl.push((pipe.cmds[0].offset, pipe.cmds[known - 1].end, lit));
            }
        }
        // In the other commands, arguments known now become constants.
        for cmd in &pipe.cmds[known..] {
            for (i, a) in cmd.args.iter().enumerate() {
                let foldable = match &a.kind {
                    ArgKind::Pipe(..) => true,
                    // A function name as an argument is a call (`printf "%s" timestamp`).
                    ArgKind::Func(_) => i > 0,
                    _ => false,
                };
                if !foldable {
                    continue;
                }
                match self.arg(a, &V::Root) {
                    Ok(v) => {
                        if let Some(lit) = go_literal(&v) {
                            repl.push((a.offset, a.end, lit));
                        }
                    }
                    Err(Fail::Late) => {
                        if let ArgKind::Pipe(inner, _) = &a.kind {
                            self.fold_pipe(inner, repl);
                        }
                    }
                    Err(_) => {}
                }
            }
        }
    }
}
