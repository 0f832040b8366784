//! A small interpreter for the Go-template subset Packer templates use (`{{user `x`}}`,
//! `{{ .HTTPIP }}`, pipelines, `if`/`range`/`with`, trim markers), with Packer's functions.
