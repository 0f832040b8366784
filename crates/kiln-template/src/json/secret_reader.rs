//! `{{aws_secretsmanager `name` `key`}}` in a JSON template: read through the same data source
//! seam as HCL2's `data "amazon-secretsmanager"` (the loader knows no AWS), and every value read
//! is kept so the template marks it sensitive.

use std::sync::{Arc, Mutex};

use kiln_config::diag::Span;
use kiln_config::node::{Key, Node};

use crate::load::{DataRequest, DataSources};
use crate::value::Value;

#[derive(Debug)]
pub struct SecretReader {
    data_sources: Arc<dyn DataSources>,
    /// Where errors point: the template's root.
    span: Span,
    read: Mutex<Vec<String>>,
}

impl SecretReader {
    pub fn new(data_sources: Arc<dyn DataSources>, span: Span) -> SecretReader {
        SecretReader { data_sources, span, read: Mutex::new(Vec::new()) }
    }

    /// Every value returned so far.
    pub fn values_read(&self) -> Vec<String> {
        self.read.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl kiln_gotmpl::SecretReader for SecretReader {
    fn aws_secretsmanager(&self, name: &str, key: Option<&str>) -> Result<String, String> {
        let at = Some(self.span.clone());
        let mut members = vec![(Key { name: "name".into(), span: at.clone() }, Node::string(name, at.clone()))];
        if let Some(k) = key {
            members.push((Key { name: "key".into(), span: at.clone() }, Node::string(k, at.clone())));
        }
        let config = Node::object(members, at);
        let request = DataRequest {
            ty: "amazon-secretsmanager",
            name: "aws_secretsmanager",
            config: &config,
            type_span: &self.span,
            block_span: &self.span,
            required_plugins: &[],
        };
        let out = self
            .data_sources
            .run(&request)
            .map_err(|d| d.0.iter().map(|e| e.summary.clone()).collect::<Vec<_>>().join("; "))?;
        let value = match &out.value {
            Value::Object(members) => members.get("value").cloned(),
            _ => None,
        };
        let Some(Value::String(value)) = value else {
            return Err(format!("the secret {name:?} gave no text value"));
        };
        if let Ok(mut read) = self.read.lock() {
            read.push(value.clone());
        }
        Ok(value)
    }
}
