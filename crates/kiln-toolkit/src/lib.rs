//! The builder toolkit: Packer's common builder steps, typed, shared by every builder.
//!
//! [`media`] writes the CD (ISO9660 with Rock Ridge and Joliet) and floppy (FAT12/FAT16)
//! images that builders attach to their machines (`cd_files`, `cd_content`, `cd_label`,
//! `floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label`), in pure Rust and with the
//! same bytes for the same input.

pub mod media;
